// A large local file through the element's resumable endpoint (IETF draft, interop version 6; SPEC §9): created
// once, then appended from the durable offset after every dropped connection or 5xx, and continued from a known
// upload URL after a restart of the caller. The bytes are read from disk as they are sent (streamed-body.ts).
import path from 'node:path';
import { ArtstoreError } from './errors.js';
import { backoffMs, DEFAULT_RETRY, sleep } from './retry.js';
import { FileSliceBody } from './streamed-body.js';
import { enc, type Transport } from './transport.js';
import type { Job, UploadFields } from './types.js';

export interface ResumableUploadOptions {
  /** An upload URL an earlier run created for this file: continued where it stands (a new upload if it is gone). */
  uploadUrl?: string;
  /** Called once a new upload exists, before its first byte is sent (the caller records the URL to resume). */
  onUploadUrl?: (url: string) => Promise<void> | void;
  /**
   * The file's sha256 (hex) when the caller hashes it while it is sent (fields carry none): each append goes chunked
   * with it as its Repr-Digest trailer, so the element checks the bytes against it. An append cannot end before it
   * resolves; its rejection aborts the append (and the call rejects with it).
   */
  digest?: Promise<string>;
  /** Appends tried again after a failure, each from the element's durable offset (default 8). */
  resumes?: number;
  signal?: AbortSignal;
}

export interface ResumableUploadAnswer {
  job: Job;
  uploadUrl: string;
  /** Bytes this call sent (less than the file when it continued an earlier upload). */
  sentBytes: number;
  /** Appends after the first (each after a failure). */
  resumed: number;
}

const INTEROP = { 'upload-draft-interop-version': '6' };
/** A cancel refused as busy is tried again this many times (about 5 s in all). */
const CANCEL_BUSY_RETRIES = 8;

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** RFC 9530 Repr-Digest of a sha256 given in hex. */
export const reprDigestOf = (sha256Hex: string) => `sha-256=:${Buffer.from(sha256Hex, 'hex').toString('base64')}:`;

/** tus-style Upload-Metadata of the upload fields (SPEC §9 keys). */
function metadataOf(name: string, fields: UploadFields): string {
  const pairs: Array<[string, string]> = [['filename', name]];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    pairs.push([k, Array.isArray(v) ? v.join(',') : typeof v === 'string' ? v : JSON.stringify(v)]);
  }
  return pairs.map(([k, v]) => `${k} ${b64(v)}`).join(',');
}

/**
 * The element has no resumable uploads: 501 resumable_unsupported (an element on S3 staging from before they worked
 * there; a HEAD's 501 has no body to name the code) or, from an element older than SPEC §9, 404 for the creation
 * route. The caller sends the file through the ordinary upload instead; either is thrown as 501
 * resumable_unsupported.
 */
export function isResumableUnsupported(err: unknown): boolean {
  return err instanceof ArtstoreError && err.status === 501 && err.code === 'resumable_unsupported';
}

/** The 501 resumable_unsupported error the client throws, and a caller that learns it otherwise may throw too. */
export function resumableUnsupportedError(detail = 'the element has no resumable uploads', cause?: unknown, problem?: ArtstoreError['problem']): ArtstoreError {
  return new ArtstoreError({ status: 501, code: 'resumable_unsupported', detail, problem, cause });
}

function unsupported(err: unknown): unknown {
  if (!(err instanceof ArtstoreError) || err.status !== 501) return err;
  return resumableUnsupportedError(err.detail, err, err.problem);
}

/** A failure after which the append is worth trying again from the durable offset. */
function resumable(err: unknown): boolean {
  if (!(err instanceof ArtstoreError)) return false;
  return err.status === 0 || err.status === 409 || err.status === 423 || err.status === 429 || err.status >= 500;
}

/**
 * Cancels an unfinished upload and removes its bytes (IETF DELETE); one already gone is not an error. An append the
 * caller just cut may hold the upload until the element sees it gone (409/423): tried again meanwhile.
 */
async function cancelUpload(t: Transport, route: string, signal?: AbortSignal): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await t.call('DELETE', route, { headers: INTEROP, idempotent: true, signal });
      return;
    } catch (err) {
      if (err instanceof ArtstoreError && err.status === 404) return;
      const busy = err instanceof ArtstoreError && (err.status === 409 || err.status === 423);
      if (!busy || attempt >= CANCEL_BUSY_RETRIES) throw err;
    }
    await sleep(backoffMs({ ...DEFAULT_RETRY, baseMs: 50, maxMs: 1_000 }, attempt + 1), signal);
  }
}

export function resumableUploadMethods(t: Transport) {
  /** The upload's state, or null when it is gone (expired, cancelled, another principal's). */
  const offsetOf = async (route: string, signal?: AbortSignal): Promise<{ offset: number; jobId: string | null } | null> => {
    try {
      const res = await t.call('HEAD', route, { headers: INTEROP, idempotent: true, signal });
      return { offset: Number(res.headers.get('upload-offset')), jobId: res.headers.get('upload-job-id') };
    } catch (err) {
      if (err instanceof ArtstoreError && err.status === 404) return null;
      throw unsupported(err);
    }
  };

  return {
    cancelResumable: (route: string, signal?: AbortSignal) => cancelUpload(t, route, signal),

    /**
     * Uploads a local file through POST /api/v1/uploads, resuming after failures; resolves with its ingest job.
     * Rejects with 501 resumable_unsupported (isResumableUnsupported) when the element has no resumable uploads.
     */
    async uploadResumable(source: { path: string; size: number; name?: string }, fields: UploadFields = {}, opts: ResumableUploadOptions = {}): Promise<ResumableUploadAnswer> {
      let route = opts.uploadUrl;
      let state = route ? await offsetOf(route, opts.signal) : null;
      if (!route || !state) {
        const res = await t
          .call('POST', '/api/v1/uploads', {
            headers: { ...INTEROP, 'upload-complete': '?0', 'upload-length': String(source.size), 'upload-metadata': metadataOf(source.name ?? path.basename(source.path), fields) },
            idempotent: false,
            signal: opts.signal,
          })
          .catch((err: unknown) => {
            // No such route: an element from before resumable uploads.
            if (err instanceof ArtstoreError && err.status === 404) throw resumableUnsupportedError(`the element has no resumable uploads (${err.detail})`, err);
            throw unsupported(err);
          });
        route = new URL(res.headers.get('location')!, t.base).pathname;
        await opts.onUploadUrl?.(route);
        state = { offset: 0, jobId: null };
      }
      const digest = opts.digest;
      const trailers = digest && { names: ['Repr-Digest'], values: async () => ({ 'Repr-Digest': reprDigestOf(await digest) }) };
      let sentBytes = 0;
      for (let attempt = 0; ; attempt++) {
        if (state.jobId) return { job: await t.json<Job>('GET', `/api/v1/jobs/${enc(state.jobId)}`, { idempotent: true, signal: opts.signal }), uploadUrl: route, sentBytes, resumed: attempt };
        const from = state.offset;
        try {
          const res = await t.call('PATCH', route, {
            headers: { ...INTEROP, 'upload-offset': String(from), 'upload-complete': '?1' },
            body: () => new FileSliceBody(source.path, from, source.size - from, 'application/partial-upload', trailers),
            idempotent: false,
            signal: opts.signal,
          });
          sentBytes += source.size - from;
          state = { offset: source.size, jobId: res.headers.get('upload-job-id') };
          if (!state.jobId) throw new ArtstoreError({ status: res.status, code: 'internal', detail: 'the completed upload named no job' });
          continue;
        } catch (err) {
          // A digest that failed (the file could not be hashed, or the caller decided against the upload) ends it.
          if (digest) await digest;
          if (!resumable(err) || attempt >= (opts.resumes ?? 8)) throw err;
        }
        await sleep(backoffMs(DEFAULT_RETRY, attempt + 1), opts.signal);
        const now = await offsetOf(route, opts.signal);
        if (!now) throw new ArtstoreError({ status: 404, code: 'not_found', detail: `upload ${route} is gone (expired or cancelled)` });
        sentBytes += Math.max(0, now.offset - from);
        state = now;
      }
    },
  };
}
