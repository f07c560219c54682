// A TCP proxy in front of the real PostgreSQL, Redis or an API: cut() makes the service unreachable for whoever
// connects through it (open connections reset, new ones refused), restore() brings it back on the same port;
// resetConnections() drops the open connections only, and switchTo() sends new ones to another port.
import net from 'node:net';

export class TcpProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  private constructor(
    private readonly targetHost: string,
    private targetPort: number,
  ) {}

  /** A proxy to host:port, listening on a free loopback port. */
  static async open(target: { host: string; port: number }): Promise<TcpProxy> {
    const proxy = new TcpProxy(target.host, target.port);
    await proxy.listen(0);
    return proxy;
  }

  /** url with its host and port replaced by this proxy's. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  private async listen(port: number): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        // A reset is the point of cut(); the peer sees it, the proxy need not.
        s.on('error', () => s.destroy());
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** http://127.0.0.1:<port>, for a proxy in front of an HTTP server. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** New connections go to this port of the same host from now on (another API process, say). */
  switchTo(port: number): void {
    this.targetPort = port;
  }

  /** Synchronous, for a test hook: resets every open connection (its client sees the request fail); keeps listening. */
  resetConnections(): void {
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  /** Synchronous, so a test hook can cut at an exact step: stops listening and resets every open connection. */
  cut(): void {
    this.server?.close();
    this.server = undefined;
    this.resetConnections();
  }

  async restore(): Promise<void> {
    if (!this.server) await this.listen(this.port);
  }

  async close(): Promise<void> {
    this.cut();
  }
}

/** host and port of a postgresql:// or redis:// URL. */
export function targetOf(url: string): { host: string; port: number } {
  // A Unix socket (postgresql://user@/db?host=/dir, unix:///path) has no port to put a proxy in front of.
  if (/^unix:|[?&]host=\//.test(url) || /^postgres(ql)?:\/\/([^@/?#]*@)?[/?#]/.test(url)) {
    throw new Error(`the outage tests proxy TCP: run them with TCP URLs of PostgreSQL and Redis, not ${url}`);
  }
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || (u.protocol.startsWith('redis') ? 6379 : 5432)) };
}
