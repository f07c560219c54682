// pino logger factory; one root logger per process, children carry the component and request/job ids.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

/**
 * Credentials never reach a log line: the bearer token and cookies a request carries, and the session cookie a
 * response sets (the access log writes response headers, so POST /admin/session would write a live admin session).
 */
const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'];

/** `destination` defaults to stdout; tests pass a stream to read the lines back. */
export function createLogger(config: Pick<Config, 'logLevel'>, component: string, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    base: { component, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
