// The client's calls on stored files: download, metadata, search and listing, metadata patch, delete, exists.
import { chunks, enc, JSON_HEADERS, jsonBody, type Transport } from './transport.js';
import type { ExistsAnswer, FileMetadata, FilePage, Job, MetadataPatchBody, RetentionBody, SearchQuery } from './types.js';
import { BYPASS_GOVERNANCE_HEADER } from '../contract/wire-constants.js';

const MAX_EXISTS = 1000;

export interface DownloadOptions {
  /** Byte range, inclusive; `end` omitted = to the end. */
  range?: { start: number; end?: number };
  /** Honour the range only while the file's ETag is this one (a quoted sha256). */
  ifRange?: string;
  ifNoneMatch?: string;
  signal?: AbortSignal;
}

function toQuery(query: SearchQuery): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String) : String(v);
  }
  return out;
}

/** Reading files: bytes, metadata, and search or listing page by page. */
export function fileReadMethods(t: Transport) {
  const page = (route: string, query: SearchQuery, signal?: AbortSignal) =>
    t.json<FilePage>('GET', route, { query: toQuery(query), idempotent: true, signal });
  return {
    /** GET /api/v1/files/{id}: the Response (200, 206 or 304) with its body stream unread. */
    download(fileId: string, opts: DownloadOptions = {}): Promise<Response> {
      const headers: Record<string, string> = { accept: '*/*' };
      if (opts.range) headers.range = `bytes=${opts.range.start}-${opts.range.end ?? ''}`;
      if (opts.ifRange) headers['if-range'] = opts.ifRange;
      if (opts.ifNoneMatch) headers['if-none-match'] = opts.ifNoneMatch;
      return t.call('GET', `/api/v1/files/${enc(fileId)}`, { headers, idempotent: true, signal: opts.signal, accept: [304] });
    },

    /** HEAD /api/v1/files/{id} */
    head(fileId: string, signal?: AbortSignal): Promise<Response> {
      return t.call('HEAD', `/api/v1/files/${enc(fileId)}`, { headers: { accept: '*/*' }, idempotent: true, signal });
    },

    /** GET /api/v1/files/{id}/metadata */
    metadata(fileId: string, signal?: AbortSignal): Promise<FileMetadata> {
      return t.json<FileMetadata>('GET', `/api/v1/files/${enc(fileId)}/metadata`, { idempotent: true, signal });
    },

    /** GET /api/v1/files/search */
    search(query: SearchQuery = {}, signal?: AbortSignal): Promise<FilePage> {
      return page('/api/v1/files/search', query, signal);
    },

    /** GET /api/v1/files (newest first by default) */
    list(query: SearchQuery = {}, signal?: AbortSignal): Promise<FilePage> {
      return page('/api/v1/files', query, signal);
    },

    /** Every item of a search, page after page. */
    async *searchAll(query: SearchQuery = {}, signal?: AbortSignal): AsyncGenerator<FileMetadata> {
      let cursor: string | undefined = undefined;
      do {
        const next: FilePage = await page('/api/v1/files/search', { ...query, cursor }, signal);
        yield* next.items;
        cursor = next.nextCursor ?? undefined;
      } while (cursor);
    },
  };
}

/** Changing files, and asking which digests are stored. */
export function fileEditMethods(t: Transport) {
  /** A change the API records as an update job: the new FileMetadata (200), or the Job when not applied within 10 s (202). */
  const update = async (method: 'PATCH' | 'PUT', route: string, headers: Record<string, string>, body: unknown, signal?: AbortSignal) => {
    const res = await t.call(method, route, { headers, body: jsonBody(body), idempotent: false, signal });
    return res.status === 202
      ? { applied: false as const, job: (await res.json()) as Job }
      : { applied: true as const, file: (await res.json()) as FileMetadata };
  };
  return {
    /** PATCH /api/v1/files/{id}/metadata: the new FileMetadata (200), or the update Job when not applied within 10 s (202). Not retried. */
    async patchMetadata(fileId: string, patch: MetadataPatchBody, opts: { ifMatch?: number; signal?: AbortSignal } = {}) {
      const headers: Record<string, string> = { ...JSON_HEADERS };
      if (opts.ifMatch !== undefined) headers['if-match'] = String(opts.ifMatch);
      return update('PATCH', `/api/v1/files/${enc(fileId)}/metadata`, headers, patch, opts.signal);
    },

    /**
     * PUT /api/v1/files/{id}/retention: as patchMetadata. bypassGovernance (admins) shortens or removes a governance
     * retention; a compliance retention is only ever extended. Not retried.
     */
    setRetention(fileId: string, body: RetentionBody, opts: { bypassGovernance?: boolean; signal?: AbortSignal } = {}) {
      const headers: Record<string, string> = { ...JSON_HEADERS };
      if (opts.bypassGovernance) headers[BYPASS_GOVERNANCE_HEADER.toLowerCase()] = 'true';
      return update('PUT', `/api/v1/files/${enc(fileId)}/retention`, headers, body, opts.signal);
    },

    /** PUT /api/v1/files/{id}/legal-hold (operators, admins): as patchMetadata. Not retried. */
    setLegalHold(fileId: string, on: boolean, signal?: AbortSignal) {
      return update('PUT', `/api/v1/files/${enc(fileId)}/legal-hold`, { ...JSON_HEADERS }, { on }, signal);
    },

    /** DELETE /api/v1/files/{id}: the delete Job. */
    delete(fileId: string, signal?: AbortSignal): Promise<Job> {
      return t.json<Job>('DELETE', `/api/v1/files/${enc(fileId)}`, { idempotent: true, signal });
    },

    /** POST /api/v1/files/exists in batches of 1000 (read-only, so retried). */
    async exists(sha256: string[], signal?: AbortSignal): Promise<ExistsAnswer> {
      const out: ExistsAnswer = { present: [], missing: [] };
      for (const batch of sha256.length === 0 ? [[]] : chunks(sha256, MAX_EXISTS)) {
        const body = await t.json<ExistsAnswer>('POST', '/api/v1/files/exists', {
          headers: JSON_HEADERS,
          body: jsonBody({ sha256: batch }),
          idempotent: true,
          signal,
        });
        out.present.push(...body.present);
        out.missing.push(...body.missing);
      }
      return out;
    },
  };
}
