// createClient: one fetch-based method per route of SPEC §5, with problem+json errors and retries for idempotent
// calls (transport.ts). Uploads and file calls have their own modules; jobs and the element are here.
import { fileEditMethods, fileReadMethods } from './file-methods.js';
import { resumableUploadMethods } from './resumable-upload.js';
import { readSse } from './sse.js';
import { chunks, createTransport, enc, JSON_HEADERS, jsonBody, type ClientOptions, type Transport } from './transport.js';
import { FINAL_JOB_STATES, type ElementInfo, type Job, type JobList, type Mode } from './types.js';
import { uploadMethods } from './upload.js';

const MAX_JOB_IDS = 100;

function jobMethods(t: Transport) {
  return {
    /** GET /api/v1/jobs/{id} */
    job(id: string, signal?: AbortSignal): Promise<Job> {
      return t.json<Job>('GET', `/api/v1/jobs/${enc(id)}`, { idempotent: true, signal });
    },

    /** GET /api/v1/jobs?ids= in batches of 100; unknown ids are omitted. */
    async jobs(ids: string[], signal?: AbortSignal): Promise<Job[]> {
      const out: Job[] = [];
      for (const batch of chunks(ids, MAX_JOB_IDS)) {
        const body = await t.json<JobList>('GET', '/api/v1/jobs', { query: { ids: batch.join(',') }, idempotent: true, signal });
        out.push(...body.jobs);
      }
      return out;
    },

    /** GET /api/v1/jobs/{id}/events: each Job snapshot until the job is final. */
    async *jobEvents(id: string, signal?: AbortSignal): AsyncGenerator<Job> {
      const res = await t.call('GET', `/api/v1/jobs/${enc(id)}/events`, {
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
  };
}

function elementMethods(t: Transport) {
  return {
    /** GET /api/v1/info */
    info(signal?: AbortSignal): Promise<ElementInfo> {
      return t.json<ElementInfo>('GET', '/api/v1/info', { idempotent: true, signal });
    },

    /** PUT /api/v1/mode (admin) */
    setMode(mode: Mode, reason?: string, signal?: AbortSignal): Promise<{ mode: Mode }> {
      return t.json<{ mode: Mode }>('PUT', '/api/v1/mode', { headers: JSON_HEADERS, body: jsonBody({ mode, reason }), idempotent: true, signal });
    },
  };
}

export type Client = ReturnType<typeof createClient>;

export function createClient(options: ClientOptions) {
  const t = createTransport(options);
  return {
    url: t.base,
    ...uploadMethods(t),
    ...resumableUploadMethods(t),
    ...jobMethods(t),
    ...fileReadMethods(t),
    ...fileEditMethods(t),
    ...elementMethods(t),
  };
}
