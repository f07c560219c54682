// Search and listing through HTTP: every filter, full text, every sort, keyset pages, cursor and parameter checks.
import { createHash, randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from '../helpers/world.js';

interface Meta {
  id: string;
  fileName: string;
  contentType: string;
  size: number;
  sha256: string;
  tags: string[];
  owner: string;
  createdAt: string;
}

const run = randomBytes(4).toString('hex');
// The database is shared with the other test files of the run: every query below is narrowed by this tag or owner.
const TAG = `search-${run}`;
const OWNER_A = `searcher-a-${run}`;
const OWNER_B = `searcher-b-${run}`;

// Names start with distinct lower-case letters so their order is the same under any collation.
const FILES = [
  { name: 'annual-report_2025.pdf', type: 'application/pdf', size: 5000, owner: OWNER_A, description: 'Quarterly numbers for the board', tags: ['finance'] },
  { name: 'zebra-sketch.png', type: 'image/png', size: 1200, owner: OWNER_A, description: 'Pencil drawing of a striped animal', tags: ['art', 'drawings'] },
  { name: 'minutes 2025-03.txt', type: 'text/plain', size: 300, owner: OWNER_A, description: 'Meeting notes that mention umbrellas', tags: [] },
  { name: 'photo_archive.jpg', type: 'image/jpeg', size: 8000, owner: OWNER_B, description: '', tags: ['kaleidoscope'] },
  { name: 'budget.xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', size: 2500, owner: OWNER_A, description: 'Next year', tags: ['finance'] },
  // Never 0 bytes: the empty blob is shared with other test files, and a duplicate here would change their results.
  { name: 'notes-empty.txt', type: 'text/plain', size: 100, owner: OWNER_B, description: 'Nothing yet', tags: [] },
  // Same size as the minutes: id breaks the tie.
  { name: 'quartz.bin', type: 'application/octet-stream', size: 300, owner: OWNER_B, description: 'Crystal data', tags: [] },
] as const;

describe('file search and listing', () => {
  let world: World;
  let reader: string;
  const byName = new Map<string, Meta>();
  const ids = (items: Meta[]) => items.map((m) => m.id);
  const idsOf = (...names: string[]) => names.map((n) => byName.get(n)!.id);

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    reader = await world.token('readonly', `reader-${run}`);
    // One at a time, each committed before the next, so createdAt follows this order.
    for (const f of FILES) {
      const token = await world.token('user', f.owner);
      let req = request(world.app).post('/api/v1/files/upload').set('Authorization', `Bearer ${token}`);
      if (f.description) req = req.field('description', f.description);
      req = req.field('tags', [TAG, ...f.tags].join(','));
      const res = await req.attach('file', randomBytes(f.size), { filename: f.name, contentType: f.type });
      expect(res.status).toBe(202);
      const job = await world.waitForJob(res.body.jobs[0].id, token);
      expect(job.state).toBe('committed');
      const meta = await request(world.app).get(`/api/v1/files/${job.fileId}/metadata`).set('Authorization', `Bearer ${token}`);
      byName.set(f.name, meta.body as Meta);
    }
  });
  afterAll(async () => world?.close());

  const get = (path: string, query: Record<string, string | string[]> = {}, token = reader) =>
    request(world.app).get(path).query(query).set('Authorization', `Bearer ${token}`);
  const search = async (query: Record<string, string | string[]>): Promise<Meta[]> => {
    const res = await get('/api/v1/files/search', { tag: TAG, limit: '1000', ...query });
    expect(res.status, res.text).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    return res.body.items as Meta[];
  };
  const uploadOrder = () => FILES.map((f) => byName.get(f.name)!.id);

  it('lists files newest first by default, with the full FileMetadata of each', async () => {
    const res = await get('/api/v1/files', { owner: OWNER_A });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
    expect(ids(res.body.items)).toEqual(idsOf('budget.xlsx', 'minutes 2025-03.txt', 'zebra-sketch.png', 'annual-report_2025.pdf'));
    expect(res.body.nextCursor).toBeNull();
    expect(res.body.items[0]).toEqual(byName.get('budget.xlsx'));
    expect(res.body.items[0]).toMatchObject({ owner: OWNER_A, tags: [TAG, 'finance'], description: 'Next year', revision: 1 });
  });

  it('answers /api/v1/files and /api/v1/files/search alike', async () => {
    const a = await get('/api/v1/files', { tag: TAG, sort: 'size' });
    const b = await get('/api/v1/files/search', { tag: TAG, sort: 'size' });
    expect(a.status).toBe(200);
    expect(a.body).toEqual(b.body);
  });

  it('filters by case-insensitive substring of the file name, matching LIKE wildcards literally', async () => {
    expect(ids(await search({ fileName: 'REPORT' }))).toEqual(idsOf('annual-report_2025.pdf'));
    expect(ids(await search({ fileName: 'ot' }))).toEqual(idsOf('notes-empty.txt', 'photo_archive.jpg'));
    expect(ids(await search({ fileName: '_' }))).toEqual(idsOf('photo_archive.jpg', 'annual-report_2025.pdf'));
    expect(await search({ fileName: '%' })).toEqual([]);
  });

  it('filters by exact content type or by type/*', async () => {
    expect(ids(await search({ contentType: 'image/png' }))).toEqual(idsOf('zebra-sketch.png'));
    expect(ids(await search({ contentType: 'IMAGE/PNG' }))).toEqual(idsOf('zebra-sketch.png'));
    expect(ids(await search({ contentType: 'image/*' }))).toEqual(idsOf('photo_archive.jpg', 'zebra-sketch.png'));
    expect(ids(await search({ contentType: 'text/*', sort: 'fileName' }))).toEqual(idsOf('minutes 2025-03.txt', 'notes-empty.txt'));
    expect(await search({ contentType: 'image/gif' })).toEqual([]);
  });

  it('filters by tags: comma-separated or repeated, the file must carry all of them', async () => {
    expect(ids(await search({ tag: `${TAG},finance` }))).toEqual(idsOf('budget.xlsx', 'annual-report_2025.pdf'));
    expect(ids(await search({ tag: [TAG, 'finance'] }))).toEqual(idsOf('budget.xlsx', 'annual-report_2025.pdf'));
    expect(ids(await search({ tag: `${TAG},finance,art` }))).toEqual([]);
    expect(ids(await search({ tag: `${TAG}, drawings ` }))).toEqual(idsOf('zebra-sketch.png'));
  });

  it('filters by owner', async () => {
    expect(ids(await search({ owner: OWNER_B }))).toEqual(idsOf('quartz.bin', 'notes-empty.txt', 'photo_archive.jpg'));
    expect(await search({ owner: `nobody-${run}` })).toEqual([]);
  });

  it('filters by size, both bounds inclusive', async () => {
    expect(ids(await search({ minSize: '1200', maxSize: '5000', sort: 'size' }))).toEqual(
      idsOf('zebra-sketch.png', 'budget.xlsx', 'annual-report_2025.pdf'),
    );
    expect(ids(await search({ minSize: '0', maxSize: '100' }))).toEqual(idsOf('notes-empty.txt'));
    expect(ids(await search({ minSize: '5001' }))).toEqual(idsOf('photo_archive.jpg'));
  });

  it('filters by creation time, from inclusive and to exclusive', async () => {
    const from = byName.get('zebra-sketch.png')!.createdAt;
    const to = byName.get('photo_archive.jpg')!.createdAt;
    expect(ids(await search({ createdFrom: from, createdTo: to }))).toEqual(idsOf('minutes 2025-03.txt', 'zebra-sketch.png'));
    // The same instant written with an offset.
    const shifted = new Date(Date.parse(from) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    expect(ids(await search({ createdFrom: shifted, createdTo: to }))).toEqual(idsOf('minutes 2025-03.txt', 'zebra-sketch.png'));
    expect(await search({ createdFrom: '2000-01-01', createdTo: '2000-01-02' })).toEqual([]);
  });

  it('filters by sha256, upper-case hex accepted', async () => {
    const budget = byName.get('budget.xlsx')!;
    expect(ids(await search({ sha256: budget.sha256.toUpperCase() }))).toEqual([budget.id]);
    expect(await search({ sha256: createHash('sha256').update(run).digest('hex') })).toEqual([]);
  });

  it('finds words of the file name, the tags and the description with q', async () => {
    expect(ids(await search({ q: 'report' }))).toEqual(idsOf('annual-report_2025.pdf'));
    expect(ids(await search({ q: 'kaleidoscope' }))).toEqual(idsOf('photo_archive.jpg'));
    expect(ids(await search({ q: 'umbrellas' }))).toEqual(idsOf('minutes 2025-03.txt'));
    expect(ids(await search({ q: 'STRIPED Pencil' }))).toEqual(idsOf('zebra-sketch.png'));
  });

  it('takes web search syntax in q and matches its last word as a prefix', async () => {
    expect(ids(await search({ q: 'zeb' }))).toEqual(idsOf('zebra-sketch.png'));
    expect(ids(await search({ q: 'meeting umbr' }))).toEqual(idsOf('minutes 2025-03.txt'));
    expect(ids(await search({ q: '"pencil drawing"' }))).toEqual(idsOf('zebra-sketch.png'));
    expect(await search({ q: '"drawing pencil"' })).toEqual([]);
    expect(ids(await search({ q: 'finance -budget' }))).toEqual(idsOf('annual-report_2025.pdf'));
    expect(ids(await search({ q: 'umbrellas or crystal' }))).toEqual(idsOf('quartz.bin', 'minutes 2025-03.txt'));
    expect(await search({ q: 'zebrafish' })).toEqual([]);
  });

  // 'search-1a2b' <-> 'search' <-> '1a2b': the prefix rewrite once parsed this again, doubling it, so nothing matched.
  it('finds a hyphenated word as the last word of q', async () => {
    expect(await search({ q: TAG })).toHaveLength(FILES.length);
    expect(ids(await search({ q: `${TAG} zebra` }))).toEqual(idsOf('zebra-sketch.png'));
    expect(ids(await search({ q: `zebra ${TAG}` }))).toEqual(idsOf('zebra-sketch.png'));
  });

  it('combines filters', async () => {
    expect(ids(await search({ q: 'finance', owner: OWNER_A, maxSize: '3000' }))).toEqual(idsOf('budget.xlsx'));
  });

  it('sorts by every key, id breaking ties', async () => {
    const order = uploadOrder();
    expect(ids(await search({ sort: 'createdAt' }))).toEqual(order);
    expect(ids(await search({ sort: '-createdAt' }))).toEqual([...order].reverse());
    const all = [...byName.values()];
    const bySize = [...all].sort((a, b) => a.size - b.size || (a.id < b.id ? -1 : 1));
    expect(ids(await search({ sort: 'size' }))).toEqual(ids(bySize));
    const bySizeDesc = [...all].sort((a, b) => b.size - a.size || (a.id < b.id ? 1 : -1));
    expect(ids(await search({ sort: '-size' }))).toEqual(ids(bySizeDesc));
    expect((await search({ sort: 'fileName' })).map((m) => m.fileName)).toEqual([
      'annual-report_2025.pdf',
      'budget.xlsx',
      'minutes 2025-03.txt',
      'notes-empty.txt',
      'photo_archive.jpg',
      'quartz.bin',
      'zebra-sketch.png',
    ]);
  });

  // With q, whichever plan records/file-search-plan.ts chooses: the same pages.
  it('walks every page with limit=2: each file exactly once, in order, for every sort, with and without q', async () => {
    for (const [sort, text] of ['createdAt', '-createdAt', 'size', '-size', 'fileName'].flatMap((s) => [[s, {}], [s, { q: 'search' }]] as const)) {
      const expected = ids(await search({ sort, ...text }));
      expect(expected).toHaveLength(FILES.length);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const res = await get('/api/v1/files/search', { tag: TAG, ...text, sort, limit: '2', ...(cursor ? { cursor } : {}) });
        expect(res.status, res.text).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...ids(res.body.items));
        cursor = res.body.nextCursor ?? undefined;
        if (!cursor) break;
        expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      }
      expect(seen, `sort ${sort} ${JSON.stringify(text)}`).toEqual(expected);
    }
  });

  it('ends with nextCursor null when the last page is exactly full', async () => {
    const first = await get('/api/v1/files', { owner: OWNER_B, limit: '2' });
    expect(first.body.items).toHaveLength(2);
    const second = await get('/api/v1/files', { owner: OWNER_B, limit: '2', cursor: first.body.nextCursor });
    expect(ids(second.body.items)).toEqual(idsOf('photo_archive.jpg'));
    expect(second.body.nextCursor).toBeNull();
    const exact = await get('/api/v1/files', { owner: OWNER_B, limit: '3' });
    expect(exact.body.items).toHaveLength(3);
    expect(exact.body.nextCursor).toBeNull();
  });

  it('refuses a cursor made for another sort, and a malformed one, naming the cursor', async () => {
    const page = await get('/api/v1/files/search', { tag: TAG, sort: 'size', limit: '2' });
    const cursor = page.body.nextCursor as string;
    const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const { id } = byName.get('budget.xlsx')!;
    for (const [sort, bad] of [
      ['-size', cursor],
      ['size', 'not a cursor!'],
      ['size', cursor.slice(0, -3)],
      ['size', forged({ s: 'size', k: 'twelve', id })],
      ['size', forged({ s: 'size', k: '12', id: 'nope' })],
      ['createdAt', forged({ s: 'createdAt', k: 'yesterday', id })],
      ['fileName', forged(['fileName'])],
    ] as const) {
      const res = await get('/api/v1/files/search', { tag: TAG, sort, cursor: bad });
      expect(res.status, `${sort} ${bad}`).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body).toMatchObject({ code: 'validation_failed', parameter: 'cursor' });
    }
  });

  it('refuses unknown parameters, naming them', async () => {
    const res = await get('/api/v1/files/search', { tag: TAG, colour: 'red' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'validation_failed', parameter: 'colour' });
    const listing = await get('/api/v1/files', { ownr: OWNER_A });
    expect(listing.body).toMatchObject({ code: 'validation_failed', parameter: 'ownr' });
  });

  it('refuses bad values, naming the parameter', async () => {
    const cases: Array<[Record<string, string | string[]>, string]> = [
      [{ limit: '0' }, 'limit'],
      [{ limit: '1001' }, 'limit'],
      [{ limit: 'ten' }, 'limit'],
      [{ sort: 'name' }, 'sort'],
      [{ minSize: '-1' }, 'minSize'],
      [{ maxSize: '1.5' }, 'maxSize'],
      [{ minSize: '10', maxSize: '9' }, 'maxSize'],
      [{ createdFrom: 'last tuesday' }, 'createdFrom'],
      [{ createdFrom: '2026-02-30T00:00:00Z' }, 'createdFrom'],
      [{ createdFrom: '2026-01-02', createdTo: '2026-01-01' }, 'createdTo'],
      [{ sha256: 'abc' }, 'sha256'],
      [{ contentType: 'image' }, 'contentType'],
      [{ owner: [OWNER_A, OWNER_B] }, 'owner'],
      [{ q: 'x'.repeat(501) }, 'q'],
    ];
    for (const [query, parameter] of cases) {
      const res = await get('/api/v1/files/search', query);
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect(res.body, JSON.stringify(query)).toMatchObject({ code: 'validation_failed', parameter });
    }
  });

  it('accepts limits 1 and 1000 and treats empty parameters as absent', async () => {
    expect((await get('/api/v1/files', { tag: TAG, limit: '1' })).body.items).toHaveLength(1);
    expect((await get('/api/v1/files', { tag: TAG, limit: '1000' })).body.items).toHaveLength(FILES.length);
    const res = await get('/api/v1/files/search', { q: '', fileName: '', owner: OWNER_A, sort: '', limit: '', cursor: '' });
    expect(res.status).toBe(200);
    expect(ids(res.body.items)).toEqual(idsOf('budget.xlsx', 'minutes 2025-03.txt', 'zebra-sketch.png', 'annual-report_2025.pdf'));
  });

  it('lets every role search, and nobody without a token', async () => {
    for (const role of ['readonly', 'user', 'operator', 'admin']) {
      const res = await get('/api/v1/files/search', { owner: OWNER_B }, await world.token(role, `${role}-${run}`));
      expect(res.status, role).toBe(200);
      expect(res.body.items).toHaveLength(3);
    }
    const anonymous = await request(world.app).get('/api/v1/files/search').query({ owner: OWNER_B });
    expect(anonymous.status).toBe(401);
    const unknownRole = await get('/api/v1/files', {}, await world.token('guest'));
    expect(unknownRole.status).toBe(403);
  });

  it('never shows deleted files', async () => {
    const gone = byName.get('quartz.bin')!;
    await world.api.db.file.update({ where: { id: gone.id }, data: { deletedAt: new Date() } });
    expect(ids(await search({ owner: OWNER_B }))).toEqual(idsOf('notes-empty.txt', 'photo_archive.jpg'));
    expect(await search({ q: 'crystal' })).toEqual([]);
    expect(await search({ sha256: gone.sha256 })).toEqual([]);
  });
});
