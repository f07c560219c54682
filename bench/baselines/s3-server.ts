// The S3 store of a `BENCH_BLOB_BACKEND=s3` run: s3rver (the in-process S3 test server, run here as its own process
// so that its CPU is not the load generator's) with one bucket, data under --dir.
// Run as a child process: tsx bench/baselines/s3-server.ts --port N --dir DIR --bucket NAME
import { parseArgs } from 'node:util';
import S3rver from 's3rver';

const { values } = parseArgs({ options: { port: { type: 'string' }, dir: { type: 'string' }, bucket: { type: 'string' } } });
if (!values.port || !values.dir || !values.bucket) {
  process.stderr.write('usage: s3-server --port N --dir DIR --bucket NAME\n');
  process.exit(2);
}
const server = new S3rver({
  port: Number(values.port),
  address: '127.0.0.1',
  silent: true,
  directory: values.dir,
  configureBuckets: [{ name: values.bucket, configs: [] }],
});
await server.run();
process.stdout.write(`s3rver listening on 127.0.0.1:${values.port}\n`);
const stop = () => void server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
