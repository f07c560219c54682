// Walks the paths given to ingest: files and directory trees (sorted, symlinks not followed), filtered by globs.
import fs from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';

export interface LocalFile {
  /** Absolute path: the file's identity in the report and in its Idempotency-Key. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface WalkFilter {
  include: string[];
  exclude: string[];
}

/** A matcher over the path relative to the walked root; patterns without a slash match the base name at any depth. */
function matcher(filter: WalkFilter): (rel: string) => boolean {
  const opts = { dot: true, basename: true };
  const inc = filter.include.length > 0 ? picomatch(filter.include, opts) : () => true;
  const exc = filter.exclude.length > 0 ? picomatch(filter.exclude, opts) : () => false;
  return (rel) => inc(rel) && !exc(rel);
}

async function* walkDir(root: string, dir: string, keep: (rel: string) => boolean): AsyncGenerator<LocalFile> {
  const names: Array<{ name: string; isDir: boolean; isFile: boolean }> = [];
  for await (const d of await fs.opendir(dir)) names.push({ name: d.name, isDir: d.isDirectory(), isFile: d.isFile() });
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of names) {
    const abs = path.join(dir, entry.name);
    if (entry.isDir) {
      yield* walkDir(root, abs, keep);
    } else if (entry.isFile && keep(path.relative(root, abs).split(path.sep).join('/'))) {
      const st = await fs.stat(abs);
      yield { path: abs, size: st.size, mtimeMs: st.mtimeMs };
    }
  }
}

/** Every regular file under the given paths, once each, in a stable order. Throws ENOENT for a missing path. */
export async function walkPaths(paths: string[], filter: WalkFilter): Promise<LocalFile[]> {
  const keep = matcher(filter);
  const seen = new Set<string>();
  const out: LocalFile[] = [];
  for (const given of paths) {
    const abs = path.resolve(given);
    const st = await fs.stat(abs);
    const found: LocalFile[] = [];
    if (st.isDirectory()) {
      for await (const f of walkDir(abs, abs, keep)) found.push(f);
    } else if (st.isFile() && keep(path.basename(abs))) {
      found.push({ path: abs, size: st.size, mtimeMs: st.mtimeMs });
    }
    for (const f of found) {
      if (seen.has(f.path)) continue;
      seen.add(f.path);
      out.push(f);
    }
  }
  return out;
}
