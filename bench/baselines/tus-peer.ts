// Peer baseline: @tus/server with @tus/file-store, a real resumable upload server (no hashing, no metadata store).
// Run as a child process: tsx bench/baselines/tus-peer.ts --port N --dir DIR
import { parseArgs } from 'node:util';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const { values } = parseArgs({ options: { port: { type: 'string' }, dir: { type: 'string' } } });
if (!values.port || !values.dir) {
  process.stderr.write('usage: tus-peer --port N --dir DIR\n');
  process.exit(2);
}
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: values.dir }) });
const server = tus.listen({ host: '127.0.0.1', port: Number(values.port) });
server.requestTimeout = 0;
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
