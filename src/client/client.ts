// createClient: one fetch-based method per route of SPEC §5, with problem+json errors and retries for idempotent calls.
import { openAsBlob } from 'node:fs';
import path from 'node:path';
import { ArtstoreError, errorFromResponse } from './errors.js';
import { backoffMs, connectionErrorCode, DEFAULT_RETRY, isRetryableStatus, sleep, type RetryPolicy } from './retry.js';
import { readSse } from './sse.js';
import {
  FINAL_JOB_STATES,
  type ElementInfo,
  type ExistsAnswer,
  type FileMetadata,
  type FilePage,
  type Job,
  type MetadataPatchBody,
  type Mode,
  type SearchQuery,
  type UploadFields,
} from './types.js';

export interface ClientOptions {
  /** Base URL of the element, e.g. http://127.0.0.1:8010 */
  url: string;
  /** Bearer JWT; omit for public routes only. */
  token?: string;
  fetch?: typeof fetch;
  /** Further attempts of an idempotent call after a 429, 502-504 or connection error (default 4). */
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Called before each retry (for logs and tests). */
  onRetry?: (info: { method: string; path: string; attempt: number; delayMs: number; reason: string }) => void;
}

/** A file to upload: a local path (streamed from disk, never held in memory) or bytes at hand. */
export type UploadSource =
  | { path: string; name?: string; contentType?: string }
  | { data: Blob | Uint8Array | string; name: string; contentType?: string };

export interface UploadOptions {
  /** Same key, same principal, within 24 h: the original jobs come back. Makes the upload safe to retry. */
  idempotencyKey?: string;
  /** Seconds (0-60) the API waits for the jobs to finish. */
  wait?: number;
  signal?: AbortSignal;
}

export interface UploadAnswer {
  /** 201 when `wait` was given and every job finished successfully in time; else 202. */
  status: number;
  jobs: Job[];
  /** The Idempotency-Key matched an earlier upload: these are its jobs. */
  replayed: boolean;
}

export interface DownloadOptions {
  /** Byte range, inclusive; `end` omitted = to the end. */
  range?: { start: number; end?: number };
  /** Honour the range only while the file's ETag is this one (a quoted sha256). */
  ifRange?: string;
  ifNoneMatch?: string;
  signal?: AbortSignal;
}

interface RequestInit2 {
  query?: Record<string, string | string[] | undefined>;
  headers?: Record<string, string>;
  /** Built again for each attempt (a consumed stream cannot be sent twice). */
  body?: () => Promise<RequestInit['body']> | RequestInit['body'];
  idempotent: boolean;
  signal?: AbortSignal;
  /** Statuses below 400 that are not errors for this call (e.g. 304). */
  accept?: number[];
}

const MAX_JOB_IDS = 100;
const MAX_EXISTS = 1000;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function formValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export type Client = ReturnType<typeof createClient>;

export function createClient(options: ClientOptions) {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const policy: RetryPolicy = {
    retries: options.retries ?? DEFAULT_RETRY.retries,
    baseMs: options.retryBaseMs ?? DEFAULT_RETRY.baseMs,
    maxMs: options.retryMaxMs ?? DEFAULT_RETRY.maxMs,
  };

  async function request(method: string, route: string, init: RequestInit2): Promise<Response> {
    const url = new URL(base + route);
    for (const [k, v] of Object.entries(init.query ?? {})) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
    }
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...init.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    for (let attempt = 0; ; attempt++) {
      const retriesLeft = init.idempotent && attempt < policy.retries;
      let res: Response;
      try {
        res = await doFetch(url, { method, headers, body: await init.body?.(), signal: init.signal, redirect: 'manual' });
      } catch (err) {
        if (init.signal?.aborted) throw err;
        const code = connectionErrorCode(err);
        if (code === undefined) throw err;
        if (retriesLeft) {
          const delayMs = backoffMs(policy, attempt + 1);
          options.onRetry?.({ method, path: route, attempt: attempt + 1, delayMs, reason: code });
          await sleep(delayMs, init.signal);
          continue;
        }
        throw new ArtstoreError({ status: 0, code: 'connection_failed', detail: `cannot reach ${base} (${code})`, cause: err });
      }
      if (res.status < 400 && (res.status < 300 || (init.accept ?? []).includes(res.status))) return res;
      if (retriesLeft && isRetryableStatus(res.status)) {
        await res.body?.cancel().catch(() => undefined);
        const delayMs = backoffMs(policy, attempt + 1, res.headers.get('retry-after'));
        options.onRetry?.({ method, path: route, attempt: attempt + 1, delayMs, reason: `http ${res.status}` });
        await sleep(delayMs, init.signal);
        continue;
      }
      throw await errorFromResponse(res);
    }
  }

  async function json<T>(method: string, route: string, init: RequestInit2): Promise<T> {
    const res = await request(method, route, init);
    return (await res.json()) as T;
  }

  const jsonBody = (value: unknown) => () => JSON.stringify(value);
  const jsonHeaders = { 'content-type': 'application/json' };
  const enc = encodeURIComponent;

  async function uploadForm(files: UploadSource[], fields: UploadFields): Promise<FormData> {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) form.append(k, formValue(v));
    for (const f of files) {
      if ('path' in f) {
        // A file-backed Blob: undici streams it from disk while sending.
        const blob = await openAsBlob(f.path, { type: f.contentType ?? '' });
        form.append('file', blob, f.name ?? path.basename(f.path));
      } else {
        const blob = f.data instanceof Blob ? f.data : new Blob([f.data], { type: f.contentType ?? '' });
        form.append('file', blob, f.name);
      }
    }
    return form;
  }

  return {
    url: base,

    /** POST /api/v1/files/upload: one ingest job per file. Retried only with an Idempotency-Key. */
    async upload(files: UploadSource[], fields: UploadFields = {}, opts: UploadOptions = {}): Promise<UploadAnswer> {
      const headers: Record<string, string> = {};
      if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
      const res = await request('POST', '/api/v1/files/upload', {
        query: { wait: opts.wait === undefined ? undefined : String(opts.wait) },
        headers,
        body: () => uploadForm(files, fields),
        idempotent: opts.idempotencyKey !== undefined,
        signal: opts.signal,
      });
      const body = (await res.json()) as { jobs: Job[] };
      return { status: res.status, jobs: body.jobs, replayed: res.headers.get('idempotent-replayed') === 'true' };
    },

    /** GET /api/v1/jobs/{id} */
    job(id: string, signal?: AbortSignal): Promise<Job> {
      return json<Job>('GET', `/api/v1/jobs/${enc(id)}`, { idempotent: true, signal });
    },

    /** GET /api/v1/jobs?ids= in batches of 100; unknown ids are omitted. */
    async jobs(ids: string[], signal?: AbortSignal): Promise<Job[]> {
      const out: Job[] = [];
      for (const batch of chunks(ids, MAX_JOB_IDS)) {
        const body = await json<{ jobs: Job[] }>('GET', '/api/v1/jobs', { query: { ids: batch.join(',') }, idempotent: true, signal });
        out.push(...body.jobs);
      }
      return out;
    },

    /** GET /api/v1/jobs/{id}/events: each Job snapshot until the job is final. */
    async *jobEvents(id: string, signal?: AbortSignal): AsyncGenerator<Job> {
      const res = await request('GET', `/api/v1/jobs/${enc(id)}/events`, {
        headers: { accept: 'text/event-stream' },
        idempotent: true,
        signal,
      });
      if (!res.body) return;
      for await (const message of readSse(res.body)) {
        if (message.event !== 'job') continue;
        const job = JSON.parse(message.data) as Job;
        yield job;
        if (FINAL_JOB_STATES.has(job.state)) return;
      }
    },

    /** GET /api/v1/files/{id}: the Response (200, 206 or 304) with its body stream unread. */
    download(fileId: string, opts: DownloadOptions = {}): Promise<Response> {
      const headers: Record<string, string> = { accept: '*/*' };
      if (opts.range) headers.range = `bytes=${opts.range.start}-${opts.range.end ?? ''}`;
      if (opts.ifRange) headers['if-range'] = opts.ifRange;
      if (opts.ifNoneMatch) headers['if-none-match'] = opts.ifNoneMatch;
      return request('GET', `/api/v1/files/${enc(fileId)}`, { headers, idempotent: true, signal: opts.signal, accept: [304] });
    },

    /** HEAD /api/v1/files/{id} */
    head(fileId: string, signal?: AbortSignal): Promise<Response> {
      return request('HEAD', `/api/v1/files/${enc(fileId)}`, { headers: { accept: '*/*' }, idempotent: true, signal });
    },

    /** GET /api/v1/files/{id}/metadata */
    metadata(fileId: string, signal?: AbortSignal): Promise<FileMetadata> {
      return json<FileMetadata>('GET', `/api/v1/files/${enc(fileId)}/metadata`, { idempotent: true, signal });
    },

    /** GET /api/v1/files/search */
    search(query: SearchQuery = {}, signal?: AbortSignal): Promise<FilePage> {
      return json<FilePage>('GET', '/api/v1/files/search', { query: toQuery(query), idempotent: true, signal });
    },

    /** GET /api/v1/files (newest first by default) */
    list(query: SearchQuery = {}, signal?: AbortSignal): Promise<FilePage> {
      return json<FilePage>('GET', '/api/v1/files', { query: toQuery(query), idempotent: true, signal });
    },

    /** Every item of a search, page after page. */
    async *searchAll(query: SearchQuery = {}, signal?: AbortSignal): AsyncGenerator<FileMetadata> {
      let cursor: string | undefined = undefined;
      do {
        const page: FilePage = await json<FilePage>('GET', '/api/v1/files/search', {
          query: toQuery({ ...query, cursor }),
          idempotent: true,
          signal,
        });
        yield* page.items;
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    },

    /** PATCH /api/v1/files/{id}/metadata: the new FileMetadata (200), or the update Job when not applied within 10 s (202). Not retried. */
    async patchMetadata(fileId: string, patch: MetadataPatchBody, opts: { ifMatch?: number; signal?: AbortSignal } = {}) {
      const headers: Record<string, string> = { ...jsonHeaders };
      if (opts.ifMatch !== undefined) headers['if-match'] = String(opts.ifMatch);
      const res = await request('PATCH', `/api/v1/files/${enc(fileId)}/metadata`, {
        headers,
        body: jsonBody(patch),
        idempotent: false,
        signal: opts.signal,
      });
      return res.status === 202
        ? { applied: false as const, job: (await res.json()) as Job }
        : { applied: true as const, file: (await res.json()) as FileMetadata };
    },

    /** DELETE /api/v1/files/{id}: the delete Job. */
    delete(fileId: string, signal?: AbortSignal): Promise<Job> {
      return json<Job>('DELETE', `/api/v1/files/${enc(fileId)}`, { idempotent: true, signal });
    },

    /** POST /api/v1/files/exists in batches of 1000 (read-only, so retried). */
    async exists(sha256: string[], signal?: AbortSignal): Promise<ExistsAnswer> {
      const out: ExistsAnswer = { present: [], missing: [] };
      for (const batch of sha256.length === 0 ? [[]] : chunks(sha256, MAX_EXISTS)) {
        const body = await json<ExistsAnswer>('POST', '/api/v1/files/exists', {
          headers: jsonHeaders,
          body: jsonBody({ sha256: batch }),
          idempotent: true,
          signal,
        });
        out.present.push(...body.present);
        out.missing.push(...body.missing);
      }
      return out;
    },

    /** GET /api/v1/info */
    info(signal?: AbortSignal): Promise<ElementInfo> {
      return json<ElementInfo>('GET', '/api/v1/info', { idempotent: true, signal });
    },

    /** PUT /api/v1/mode (admin) */
    setMode(mode: Mode, reason?: string, signal?: AbortSignal): Promise<{ mode: Mode }> {
      return json<{ mode: Mode }>('PUT', '/api/v1/mode', { headers: jsonHeaders, body: jsonBody({ mode, reason }), idempotent: true, signal });
    },
  };
}

function toQuery(query: SearchQuery): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.map(String) : String(v);
  }
  return out;
}
