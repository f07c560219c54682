// A server for a test on 127.0.0.1, port 0 (the kernel picks a free one): its port, its URL and one close().
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  server: http.Server;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Drops open connections (keep-alive, streams a test left open) and stops listening. */
  close(): Promise<void>;
}

/** Listens with an app or request handler, or with a server made elsewhere (the API's own createApiServer). */
export async function serve(handler: http.Server | http.RequestListener): Promise<Served> {
  const server = handler instanceof http.Server ? handler : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
