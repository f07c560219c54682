// One HTTP call of the client: URL and auth header, retries with backoff for idempotent calls (429, 502-504,
// connection errors), and problem+json turned into ArtstoreError.
import { ArtstoreError, errorFromResponse } from './errors.js';
import { backoffMs, connectionErrorCode, DEFAULT_RETRY, isRetryableStatus, sleep, type RetryPolicy } from './retry.js';
import { StreamedBody } from './streamed-body.js';
import { createStreamedSender } from './streamed-request.js';

export interface ClientOptions {
  /** Base URL of the element, e.g. http://127.0.0.1:8010 */
  url: string;
  /** Bearer JWT; omit for public routes only. */
  token?: string;
  /** For every call but uploads, whose bodies (StreamedBody) go over node:http(s) (streamed-request.ts). */
  fetch?: typeof fetch;
  /** Further attempts of an idempotent call after a 429, 502-504 or connection error (default 4). */
  retries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Called before each retry (for logs and tests). */
  onRetry?: (info: { method: string; path: string; attempt: number; delayMs: number; reason: string }) => void;
}

export interface CallSpec {
  query?: Record<string, string | string[] | undefined>;
  headers?: Record<string, string>;
  /** Built again for each attempt (a consumed stream cannot be sent twice). A StreamedBody is streamed from disk. */
  body?: () => Promise<RequestInit['body'] | StreamedBody> | RequestInit['body'] | StreamedBody;
  idempotent: boolean;
  signal?: AbortSignal;
  /** Statuses below 400 that are not errors for this call (e.g. 304). */
  accept?: number[];
}

export interface Transport {
  /** The base URL without trailing slashes. */
  base: string;
  /** The Response of a successful call; throws ArtstoreError for an error answer or an unreachable element. */
  call(method: string, route: string, spec: CallSpec): Promise<Response>;
  /** A successful call's JSON body. */
  json<T>(method: string, route: string, spec: CallSpec): Promise<T>;
}

export const JSON_HEADERS = { 'content-type': 'application/json' };

/** A CallSpec body that sends `value` as JSON. */
export const jsonBody = (value: unknown) => () => JSON.stringify(value);

export const enc = encodeURIComponent;

function urlOf(base: string, route: string, query: CallSpec['query']): URL {
  const url = new URL(base + route);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
  }
  return url;
}

export function createTransport(options: ClientOptions): Transport {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? globalThis.fetch;
  const streamed = createStreamedSender();
  const policy: RetryPolicy = {
    retries: options.retries ?? DEFAULT_RETRY.retries,
    baseMs: options.retryBaseMs ?? DEFAULT_RETRY.baseMs,
    maxMs: options.retryMaxMs ?? DEFAULT_RETRY.maxMs,
  };

  async function call(method: string, route: string, spec: CallSpec): Promise<Response> {
    const url = urlOf(base, route, spec.query);
    const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...spec.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const retry = async (attempt: number, reason: string, retryAfter?: string | null) => {
      const delayMs = backoffMs(policy, attempt, retryAfter);
      options.onRetry?.({ method, path: route, attempt, delayMs, reason });
      await sleep(delayMs, spec.signal);
    };
    for (let attempt = 0; ; attempt++) {
      const retriesLeft = spec.idempotent && attempt < policy.retries;
      let res: Response;
      try {
        const body = await spec.body?.();
        res =
          body instanceof StreamedBody
            ? await streamed.send(url, method, headers, body, spec.signal)
            : await doFetch(url, { method, headers, body, signal: spec.signal, redirect: 'manual' });
      } catch (err) {
        if (spec.signal?.aborted) throw err;
        const code = connectionErrorCode(err);
        if (code === undefined) throw err;
        if (retriesLeft) {
          await retry(attempt + 1, code);
          continue;
        }
        throw new ArtstoreError({ status: 0, code: 'connection_failed', detail: `cannot reach ${base} (${code})`, cause: err });
      }
      if (res.status < 400 && (res.status < 300 || (spec.accept ?? []).includes(res.status))) return res;
      if (retriesLeft && isRetryableStatus(res.status)) {
        await res.body?.cancel().catch(() => undefined);
        await retry(attempt + 1, `http ${res.status}`, res.headers.get('retry-after'));
        continue;
      }
      throw await errorFromResponse(res);
    }
  }

  return {
    base,
    call,
    async json<T>(method: string, route: string, spec: CallSpec): Promise<T> {
      const res = await call(method, route, spec);
      return (await res.json()) as T;
    },
  };
}

/** `items` in slices of at most `size` (the API's batch limits). */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
