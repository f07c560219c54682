// The element's mode (SPEC §4): what each mode allows, and a cached reader of the persisted mode.
import type { Config, Mode } from '../config.js';
import type { Db } from '../db.js';
import { AppError } from '../errors.js';

export type ModeOperation = 'upload' | 'read' | 'download' | 'patch' | 'delete';

const ALLOWED: Record<Mode, ReadonlySet<ModeOperation>> = {
  edit: new Set(['upload', 'read', 'download', 'patch', 'delete']),
  rw: new Set(['upload', 'read', 'download', 'patch']),
  ro: new Set(['read', 'download']),
  ar: new Set(['read']),
};

export function modeAllows(mode: Mode, op: ModeOperation): boolean {
  return ALLOWED[mode].has(op);
}

/** Throws the error SPEC §4 names when the mode forbids op (409 archived for downloads in `ar`). */
export function assertModeAllows(mode: Mode, op: ModeOperation): void {
  if (modeAllows(mode, op)) return;
  if (op === 'download' && mode === 'ar') throw new AppError('archived', 'the element is archived: blob downloads are not served');
  throw new AppError('mode_forbids', `the element is in mode '${mode}', which does not allow ${op}`, { mode, operation: op });
}

/** Reads the persisted mode (latest ElementState row, else APP_MODE), cached for at most ttlMs. */
export class ModeReader {
  private cached?: { mode: Mode; at: number };

  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'appMode'>,
    private readonly ttlMs = 1_000,
  ) {}

  async current(): Promise<Mode> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.ttlMs) return this.cached.mode;
    const latest = await this.db.elementState.findFirst({ orderBy: { id: 'desc' }, select: { mode: true } });
    const mode = (latest?.mode as Mode | undefined) ?? this.config.appMode;
    this.cached = { mode, at: now };
    return mode;
  }
}
