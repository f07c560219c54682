// A PostgreSQL connection URL's database name, read and replaced. Node's URL refuses the libpq form with credentials
// and no host that a Unix socket takes, `postgresql://postgres@/artstore?host=/var/run/postgresql` (the README's
// advice for a PostgreSQL on the same host), which pg reads: such a URL is parsed under a placeholder host here and
// given back with its host empty, so every script that names a database (migrate, tests, bench) takes it too.
import { parse } from 'pg-connection-string';

const EMPTY_HOST = 'artstore-empty-host.invalid';
/** The scheme and the credentials, when no host follows them. */
const NO_HOST = /^(postgres(?:ql)?:\/\/(?:[^@/?#]*@)?)(?=[/?#]|$)/i;

function parsed(databaseUrl: string): { url: URL; emptyHost: boolean } {
  const emptyHost = NO_HOST.test(databaseUrl);
  return { url: new URL(emptyHost ? databaseUrl.replace(NO_HOST, `$1${EMPTY_HOST}`) : databaseUrl), emptyHost };
}

/** The database the URL names (as pg reads it). */
export function databaseNameOf(databaseUrl: string): string {
  return parse(databaseUrl).database ?? '';
}

/** The same URL (host, socket, credentials, parameters) naming another database. */
export function withDatabaseName(databaseUrl: string, name: string): string {
  const { url, emptyHost } = parsed(databaseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  const text = url.toString();
  return emptyHost ? text.replace(EMPTY_HOST, '') : text;
}

/** Where the server is, for messages: host:port, or the socket's directory. */
export function databaseServerOf(databaseUrl: string): string {
  const { host, port } = parse(databaseUrl);
  if (!host) return 'the default socket';
  return host.startsWith('/') ? `socket ${host}` : `${host}:${port || 5432}`;
}
