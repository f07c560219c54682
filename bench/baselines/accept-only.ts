// Accept-only baseline: the least an Express 5 + multer upload API can do (stage to disk, answer), plus file serving.
// Run as a child process: tsx bench/baselines/accept-only.ts --port N --dir STAGING_DIR [--serve DIR]
import path from 'node:path';
import { parseArgs } from 'node:util';
import express from 'express';
import multer from 'multer';

const { values } = parseArgs({ options: { port: { type: 'string' }, dir: { type: 'string' }, serve: { type: 'string' } } });
if (!values.port || !values.dir) {
  process.stderr.write('usage: accept-only --port N --dir STAGING_DIR [--serve DIR]\n');
  process.exit(2);
}
const serveDir = path.resolve(values.serve ?? values.dir);
const upload = multer({ storage: multer.diskStorage({ destination: values.dir }), limits: { fileSize: 1024 ** 3, files: 100 } });

const app = express();
app.disable('x-powered-by');
// The floor for a status poll: a tiny JSON answer through Express with no database behind it.
app.get('/ping', (_req, res) => {
  res.json({ state: 'committed' });
});
app.post('/upload', upload.array('file'), (req, res) => {
  const files = (req.files as Express.Multer.File[] | undefined) ?? [];
  res.status(202).json({ files: files.map((f) => ({ name: f.filename, size: f.size })) });
});
// The floor for downloads: Express's own sendFile (Range, ETag, streaming) of a file in serveDir.
app.get('/files/:name', (req, res, next) => {
  res.sendFile(req.params.name, { root: serveDir }, (err) => {
    if (err) next(err);
  });
});

const server = app.listen(Number(values.port), '127.0.0.1');
server.requestTimeout = 0;
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
