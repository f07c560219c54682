// ArtstoreError: what the client throws for a problem+json answer or a server it cannot reach.
import type { Problem } from './types.js';

export class ArtstoreError extends Error {
  /** HTTP status; 0 when no answer arrived (connection refused or reset, DNS failure). */
  readonly status: number;
  /** The problem's stable snake_case code, or `connection_failed` / `http_<status>` when the body had none. */
  readonly code: string;
  readonly detail: string;
  readonly parameter?: string;
  readonly problem?: Problem;

  constructor(init: { status: number; code: string; detail: string; parameter?: string; problem?: Problem; cause?: unknown }) {
    super(`${init.status > 0 ? `${init.status} ` : ''}${init.code}: ${init.detail}`, { cause: init.cause });
    this.name = 'ArtstoreError';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.parameter = init.parameter;
    this.problem = init.problem;
  }
}

/** Builds the error of a non-2xx response from its problem+json body (or from the status alone). */
export async function errorFromResponse(res: Response): Promise<ArtstoreError> {
  const text = await res.text().catch(() => '');
  let problem: Problem | undefined;
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === 'object' && typeof (body as Problem).code === 'string') problem = body as Problem;
  } catch {
    // not JSON: a proxy's error page, say; the status speaks for itself
  }
  return new ArtstoreError({
    status: res.status,
    code: problem?.code ?? `http_${res.status}`,
    detail: problem?.detail ?? (text.slice(0, 200) || res.statusText || 'no detail'),
    parameter: problem?.parameter,
    problem,
  });
}
