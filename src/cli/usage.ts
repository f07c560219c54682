// Shared pieces of every command: usage errors (exit 2), flag parsing, --url/--token resolution, error messages.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ArtstoreError } from '../client/index.js';
import { createClient, type Client } from '../client/index.js';
import { readCliEnv } from './env.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A bad command line: the message and the command's usage go to stderr, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with its errors turned into UsageError. */
export function parseFlags<O extends Options>(args: string[], options: O, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''), usage);
  }
}

export const CONNECTION_FLAGS = {
  url: { type: 'string' },
  token: { type: 'string' },
  retries: { type: 'string' },
} as const;

export function intFlag(value: string | undefined, name: string, min: number, max: number, fallback: number, usage: string): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not '${value}'`, usage);
  }
  return Number(value);
}

/** A client from --url/--token or ARTSTORE_URL/ARTSTORE_TOKEN. */
export function clientFrom(values: { url?: string; token?: string; retries?: string }, usage: string): Client {
  const env = readCliEnv();
  const url = values.url ?? env.url;
  const token = values.token ?? env.token;
  if (!url) throw new UsageError('--url (or ARTSTORE_URL) is required', usage);
  if (!token) throw new UsageError('--token (or ARTSTORE_TOKEN) is required', usage);
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`--url must be an http(s) URL, not '${url}'`, usage);
  }
  return createClient({ url, token, retries: intFlag(values.retries, 'retries', 0, 20, 4, usage) });
}

/** One line a person can act on, for an error from the client. */
export function describeError(err: unknown, url?: string): string {
  if (err instanceof ArtstoreError) {
    if (err.status === 0) return `cannot reach the element at ${url ?? 'the given --url'}: is it running? (${err.detail})`;
    if (err.status === 401) return `the element refused the token (401 ${err.code}: ${err.detail}); get a fresh one with 'artstore token'`;
    if (err.status === 403) return `the token's role may not do this (403 ${err.code}: ${err.detail})`;
    return `${err.status} ${err.code}: ${err.detail}`;
  }
  return err instanceof Error ? err.message : String(err);
}
