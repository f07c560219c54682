// rebuild-index: the File and Blob tables come back from the attr.json files alone, as the API served them before.
import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildIndex, type RebuildOptions, type RebuildReport } from '../../src/shared/domain/index-rebuild.js';
import type { Logger } from '../../src/shared/logger.js';
import { binaryParser } from '../helpers/http.js';
import { createWorld, type World } from '../helpers/world.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Stored {
  id: string;
  bytes: Buffer;
  meta: Record<string, unknown>;
}

/** A logger that keeps its JSON lines, to see what the rebuild warned about. */
function memoryLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), lines };
}

/** Every file under the storage root with its size and mtime: the rebuild must leave this unchanged. */
async function diskState(root: string): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const entry of await fs.readdir(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const s = await fs.stat(full);
    state[path.relative(root, full)] = `${s.size}:${s.mtimeMs}`;
  }
  return state;
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/rebuild-index.ts', ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('rebuild-index', () => {
  let world: World;
  let alice: string;
  let bob: string;
  let operator: string;
  const live: Stored[] = [];
  let deletedId = '';
  let deletedSha = '';
  let sharedSha = '';
  let rowsBefore: unknown[] = [];

  const upload = async (token: string, bytes: Buffer, name: string, fields: Record<string, string> = {}): Promise<string> => {
    let req = request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`);
    for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
    const res = await req.attach('file', bytes, name);
    expect(res.status).toBe(202);
    const job = await world.waitForJob(res.body.jobs[0].id, token);
    expect(['committed', 'duplicate']).toContain(job.state);
    return String(job.fileId);
  };
  const metadataOf = (id: string) => request(world.app).get(`/api/v1/files/${id}/metadata`).set('Authorization', `Bearer ${alice}`);
  const download = (id: string) =>
    request(world.app).get(`/api/v1/files/${id}`).set('Authorization', `Bearer ${alice}`).buffer(true).parse(binaryParser);
  const rebuild = (options: RebuildOptions = {}, logger: Logger = world.api.logger) =>
    rebuildIndex({ db: world.api.db, config: world.config, blobStore: world.api.blobStore, logger }, options);
  const wipeTables = () => world.api.db.$executeRawUnsafe('TRUNCATE files, blobs');
  const fileRows = () => world.api.db.$queryRaw<unknown[]>`
    SELECT id::text, file_name, content_type, size::text, sha256, description, version, tags, metadata, owner, owner_name,
      element_id, created_at, updated_at, revision, deleted_at, attr_path, search_vector::text AS search_vector
    FROM files ORDER BY id`;
  const blobRows = () => world.api.db.$queryRaw<Array<Record<string, unknown>>>`
    SELECT sha256, size::text, storage_key, ref_count, created_at, last_verified_at, orphaned_at, gc_started_at FROM blobs ORDER BY sha256`;
  const rowVersions = () => world.api.db.$queryRaw<unknown[]>`
    SELECT 'f' AS t, id::text AS k, xmin::text AS v FROM files UNION ALL SELECT 'b', sha256, xmin::text FROM blobs ORDER BY 1, 2`;
  const counts = (r: RebuildReport) => ({ ...r, durationMs: 0 });

  beforeAll(async () => {
    world = await createWorld({ worker: true, isolatedDatabase: true });
    alice = await world.token('user', 'alice', { name: 'Alice A.' });
    bob = await world.token('user', 'bob');
    operator = await world.token('operator', 'olga');

    const shared = randomBytes(40_000);
    sharedSha = sha(shared);
    const uploads: Array<[string, Buffer, string, Record<string, string>]> = [
      [alice, randomBytes(120_000), 'Annual report 2025.pdf', { description: 'The annual report', version: '1.0.0', tags: 'finance,annual', metadata: '{"dept":"acc","pages":42}' }],
      [bob, randomBytes(30_000), 'photo.jpg', { tags: '["museum","photo"]', metadata: '{"camera":{"make":"X","iso":400},"ok":true,"n":null}' }],
      [alice, shared, 'copy-a.bin', { tags: 'copy' }],
      [bob, shared, 'copy-b.bin', { description: 'same bytes, other file' }],
      [alice, Buffer.alloc(0), 'empty.txt', {}],
    ];
    for (const [token, bytes, name, fields] of uploads) live.push({ id: await upload(token, bytes, name, fields), bytes, meta: {} });

    const patchedBytes = Buffer.from('patched later');
    const patchedId = await upload(alice, patchedBytes, 'notes.txt', { description: 'first draft', tags: 'draft' });
    const patched = await request(world.app)
      .patch(`/api/v1/files/${patchedId}/metadata`)
      .set('Authorization', `Bearer ${alice}`)
      .set('If-Match', '1')
      .send({ description: 'final version', tags: ['final', 'notes'], metadata: { reviewedBy: 'carol' }, version: '2.0' });
    expect(patched.status).toBe(200);
    expect(patched.body.revision).toBe(2);
    live.push({ id: patchedId, bytes: patchedBytes, meta: {} });

    const doomed = randomBytes(7_000);
    deletedSha = sha(doomed);
    deletedId = await upload(alice, doomed, 'doomed.bin', { tags: 'temp' });
    const del = await request(world.app).delete(`/api/v1/files/${deletedId}`).set('Authorization', `Bearer ${operator}`);
    expect(del.status).toBe(202);
    expect((await world.waitForJob(del.body.id, operator)).state).toBe('committed');

    for (const file of live) {
      const res = await metadataOf(file.id);
      expect(res.status).toBe(200);
      file.meta = res.body;
      const dl = await download(file.id);
      expect(dl.status).toBe(200);
      expect(Buffer.compare(dl.body as Buffer, file.bytes)).toBe(0);
    }
    expect(live.find((f) => f.id === patchedId)?.meta).toMatchObject({ revision: 2, description: 'final version', version: '2.0' });
    expect((await metadataOf(deletedId)).status).toBe(404);
    rowsBefore = await fileRows();
  });
  afterAll(async () => world?.close());

  it('restores every file from the attr files alone, as the API served it', async () => {
    await wipeTables();
    expect((await metadataOf(live[0]!.id)).status).toBe(404);
    const before = await diskState(world.config.storagePath);

    const report = await rebuild();
    expect(report).toMatchObject({
      dryRun: false,
      wiped: false,
      attrFiles: 7,
      filesRestored: 7,
      deletedFilesRestored: 1,
      filesSkipped: 0,
      blobsRestored: 6,
      otherElementFiles: 0,
    });
    expect(Object.values(report.skipped).every((n) => n === 0)).toBe(true);

    for (const file of live) {
      const res = await metadataOf(file.id);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(file.meta);
      const dl = await download(file.id);
      expect(dl.status).toBe(200);
      expect(Buffer.compare(dl.body as Buffer, file.bytes)).toBe(0);
    }
    expect((await metadataOf(deletedId)).status).toBe(404);
    // The same rows as before the wipe, down to attr_path, deleted_at and the trigger's search vector.
    expect(await fileRows()).toEqual(rowsBefore);
    const search = await request(world.app).get('/api/v1/files/search').query({ q: 'final' }).set('Authorization', `Bearer ${alice}`);
    expect(search.body.items.map((i: { id: string }) => i.id)).toEqual([live[5]!.id]);
    expect(await diskState(world.config.storagePath)).toEqual(before);
  });

  it('counts each blob\'s live files as its ref_count and orphans the blob only deleted files referenced', async () => {
    const blobs = await blobRows();
    expect(blobs).toHaveLength(6);
    const perSha = await world.api.db.$queryRaw<Array<{ sha256: string; live: number }>>`
      SELECT sha256, (count(*) FILTER (WHERE deleted_at IS NULL))::int AS live FROM files GROUP BY sha256`;
    for (const blob of blobs) {
      const sha256 = String(blob.sha256);
      expect(blob.ref_count).toBe(perSha.find((p) => p.sha256 === sha256)?.live);
      expect(blob.storage_key).toBe(`blobs/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`);
      expect(blob.orphaned_at === null).toBe(blob.ref_count !== 0);
    }
    expect(blobs.find((b) => b.sha256 === sharedSha)).toMatchObject({ ref_count: 2, size: '40000', orphaned_at: null });
    expect(blobs.find((b) => b.sha256 === deletedSha)).toMatchObject({ ref_count: 0, size: '7000' });
    expect(blobs.find((b) => b.sha256 === sha(Buffer.alloc(0)))).toMatchObject({ ref_count: 1, size: '0' });
  });

  it('changes nothing when run a second time', async () => {
    const first = { files: await fileRows(), blobs: await blobRows(), versions: await rowVersions() };
    const report = await rebuild();
    const again = await rebuild();
    expect(counts(again)).toEqual(counts(report));
    expect(report).toMatchObject({ attrFiles: 7, filesRestored: 7, blobsRestored: 6, filesSkipped: 0 });
    // xmin moves whenever PostgreSQL rewrites a row: none was.
    expect({ files: await fileRows(), blobs: await blobRows(), versions: await rowVersions() }).toEqual(first);
  });

  it('converges on a database that still holds some of the rows, some of them wrong', async () => {
    const blobsBefore = await blobRows();
    const empty = live[4]!;
    await world.api.db.$executeRaw`DELETE FROM files WHERE id IN (${live[2]!.id}::uuid, ${empty.id}::uuid)`;
    await world.api.db.$executeRaw`DELETE FROM blobs WHERE sha256 = ${sha(Buffer.alloc(0))}`;
    await world.api.db.$executeRaw`UPDATE files SET description = 'tampered', revision = 9, deleted_at = now() WHERE id = ${live[0]!.id}::uuid`;
    await world.api.db.$executeRaw`UPDATE files SET deleted_at = NULL WHERE id = ${deletedId}::uuid`;
    await world.api.db.$executeRaw`UPDATE blobs SET ref_count = 9, orphaned_at = now() WHERE sha256 = ${sharedSha}`;

    const report = await rebuild();
    expect(report).toMatchObject({ filesRestored: 7, blobsRestored: 6, filesSkipped: 0 });
    expect(await fileRows()).toEqual(rowsBefore);
    const blobs = await blobRows();
    const withoutTimes = (rows: Array<Record<string, unknown>>) => rows.map(({ created_at: _c, orphaned_at, ...r }) => ({ ...r, orphaned: orphaned_at !== null }));
    expect(withoutTimes(blobs)).toEqual(withoutTimes(blobsBefore));
    expect((await metadataOf(live[0]!.id)).body).toEqual(live[0]!.meta);
  });

  it('gives the same tables when every file is a batch of its own', async () => {
    const blobsBefore = await blobRows();
    await wipeTables();
    const report = await rebuild({ batchSize: 1 });
    expect(report).toMatchObject({ attrFiles: 7, filesRestored: 7, blobsRestored: 6 });
    expect(await fileRows()).toEqual(rowsBefore);
    expect((await blobRows()).map(({ orphaned_at: _o, ...r }) => r)).toEqual(blobsBefore.map(({ orphaned_at: _o, ...r }) => r));
  });

  it('skips and reports broken attr files, warns with the file id, and restores the rest', async () => {
    // A live file's record: the deleted one's tombstone would turn every copy below into a tombstone too (rows are
    // ordered by random id, so rowsBefore[0] was that file about one run in seven).
    const live = (rowsBefore as Array<{ attr_path: string; deleted_at: Date | null }>).find((r) => r.deleted_at === null)!;
    const source = JSON.parse(await fs.readFile(path.join(world.config.storagePath, live.attr_path), 'utf8')) as Record<string, unknown>;
    const dir = path.join(world.config.storagePath, 'files', '2001', '02', '03', '04');
    await fs.mkdir(dir, { recursive: true });
    const ids: Record<string, string> = {};
    const put = async (label: string, body: (id: string) => unknown, name?: string) => {
      const id = randomUUID();
      ids[label] = id;
      const content = body(id);
      await fs.writeFile(path.join(dir, `${name ?? id}.attr.json`), typeof content === 'string' ? content : JSON.stringify(content));
    };
    const missing = 'ab'.repeat(32);
    const size = Number(source.size);
    const blob = source.blob as Record<string, unknown>;
    await put('garbage', () => '{"schemaVersion": 1, "id": tru');
    await put('future', (id) => ({ ...source, id, schemaVersion: 2 }));
    await put('noBlob', (id) => ({ ...source, id, sha256: missing, blob: { ...blob, sha256: missing } }));
    await put('wrongSize', (id) => ({ ...source, id, size: size + 1, blob: { ...blob, size: size + 1 } }));
    await put('goneTombstone', (id) => ({ ...source, id, sha256: missing, blob: { ...blob, sha256: missing }, deletedAt: new Date().toISOString() }));
    await put('noOwner', (id) => ({ ...source, id, owner: undefined }));
    // A valid record under a name that is not its id: a stray copy, not a second file.
    await put('stray', () => source);
    await fs.writeFile(path.join(dir, '.leftover.attr.json.1234.tmp'), 'temp file of an atomic write');

    try {
      await wipeTables();
      const disk = await diskState(world.config.storagePath);
      const { logger, lines } = memoryLogger();
      const report = await rebuild({}, logger);
      expect(report).toMatchObject({ attrFiles: 14, filesRestored: 7, filesSkipped: 7, blobsRestored: 6 });
      expect(report.skipped).toEqual({
        unreadable: 0,
        invalidJson: 1,
        invalidRecord: 2,
        unknownSchemaVersion: 1,
        duplicateId: 0,
        blobMissing: 1,
        blobSizeMismatch: 1,
        tombstoneWithoutBlob: 1,
        inFlight: 0,
      });
      expect(await fileRows()).toEqual(rowsBefore);
      expect(lines).toContainEqual(expect.objectContaining({ level: 40, fileId: ids.noBlob, reason: 'blobMissing' }));
      expect(lines).toContainEqual(expect.objectContaining({ level: 40, fileId: ids.wrongSize, reason: 'blobSizeMismatch' }));
      expect(lines).toContainEqual(expect.objectContaining({ level: 40, attrPath: `files/2001/02/03/04/${ids.garbage}.attr.json`, reason: 'invalidJson' }));
      expect(await diskState(world.config.storagePath)).toEqual(disk);
    } finally {
      await fs.rm(path.join(world.config.storagePath, 'files', '2001'), { recursive: true, force: true });
    }
  });

  it('with dryRun validates and counts, and writes nothing', async () => {
    await wipeTables();
    const report = await rebuild({ dryRun: true });
    expect(report).toMatchObject({ dryRun: true, attrFiles: 7, filesRestored: 7, deletedFilesRestored: 1, blobsRestored: 6, filesSkipped: 0 });
    expect(await fileRows()).toEqual([]);
    expect(await blobRows()).toEqual([]);
    await expect(rebuild({ dryRun: true, wipe: true })).rejects.toThrow(/exclude each other/);
  });

  describe('the command line', () => {
    const env = () => ({ DATABASE_URL: world.config.databaseUrl, STORAGE_PATH: world.config.storagePath, STAGING_PATH: world.config.stagingPath });

    it('prints the JSON report on stdout and exits 0 with --dry-run', async () => {
      const { code, stdout, stderr } = await runCli(['--dry-run'], env());
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ dryRun: true, attrFiles: 7, filesRestored: 7, blobsRestored: 6, filesSkipped: 0 });
      expect(await fileRows()).toEqual([]);
    });

    it('rebuilds the tables with --wipe --yes', async () => {
      const { code, stdout } = await runCli(['--wipe', '--yes'], env());
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ dryRun: false, wiped: true, filesRestored: 7, blobsRestored: 6 });
      expect(await fileRows()).toEqual(rowsBefore);
      for (const file of live) expect((await metadataOf(file.id)).body).toEqual(file.meta);
    });

    it('answers an unknown flag with the usage on stderr and exit code 2', async () => {
      const { code, stdout, stderr } = await runCli(['--frobnicate'], env());
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/Unknown option '--frobnicate'/);
      expect(stderr).toMatch(/usage: npm run rebuild-index/);
    });

    it('refuses --wipe without --yes (exit 2) and leaves the tables alone', async () => {
      const { code, stderr } = await runCli(['--wipe'], env());
      expect(code).toBe(2);
      expect(stderr).toMatch(/--yes/);
      expect(await fileRows()).toEqual(rowsBefore);
    });

    it('exits 1 with one clear line when the database is unreachable', async () => {
      const { code, stdout, stderr } = await runCli([], { ...env(), DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/artstore' });
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^rebuild-index: database unreachable at 127\.0\.0\.1:1\/artstore/);
    });
  });
});
