// POST /api/v1/files/upload from the client: local files streamed from disk (or bytes at hand) as one multipart form.
import fs from 'node:fs/promises';
import path from 'node:path';
import { MultipartBody, type MultipartFile } from './multipart.js';
import type { Transport } from './transport.js';
import type { Job, JobList, UploadFields } from './types.js';

/**
 * A file to upload: a local path (streamed from disk, never held in memory; `size` bytes of it, its current size
 * when omitted) or bytes at hand.
 */
export type UploadSource =
  | { path: string; size?: number; name?: string; contentType?: string }
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

function formValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

async function uploadBody(files: UploadSource[], fields: UploadFields): Promise<MultipartBody> {
  const formFields: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) formFields.push([k, formValue(v)]);
  const parts: MultipartFile[] = [];
  for (const f of files) {
    if ('path' in f) {
      const size = f.size ?? (await fs.stat(f.path)).size;
      parts.push({ name: f.name ?? path.basename(f.path), contentType: f.contentType ?? '', path: f.path, size });
    } else {
      const bytes = f.data instanceof Blob ? new Uint8Array(await f.data.arrayBuffer()) : typeof f.data === 'string' ? Buffer.from(f.data) : f.data;
      parts.push({ name: f.name, contentType: f.contentType ?? (f.data instanceof Blob ? f.data.type : ''), bytes });
    }
  }
  return new MultipartBody(formFields, parts);
}

export function uploadMethods(t: Transport) {
  return {
    /** POST /api/v1/files/upload: one ingest job per file. Retried only with an Idempotency-Key. */
    async upload(files: UploadSource[], fields: UploadFields = {}, opts: UploadOptions = {}): Promise<UploadAnswer> {
      const headers: Record<string, string> = {};
      if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
      const res = await t.call('POST', '/api/v1/files/upload', {
        query: { wait: opts.wait === undefined ? undefined : String(opts.wait) },
        headers,
        body: () => uploadBody(files, fields),
        idempotent: opts.idempotencyKey !== undefined,
        signal: opts.signal,
      });
      const body = (await res.json()) as JobList;
      return { status: res.status, jobs: body.jobs, replayed: res.headers.get('idempotent-replayed') === 'true' };
    },
  };
}
