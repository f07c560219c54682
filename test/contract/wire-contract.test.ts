// The wire contract (src/contract) describes what the API really answers: its schemas parse live answers as they are.
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elementInfoSchema } from '../../src/contract/element.js';
import { existsAnswerSchema } from '../../src/contract/file-edits.js';
import { filePageSchema } from '../../src/contract/file-search.js';
import { fileMetadataSchema } from '../../src/contract/files.js';
import { jobListSchema } from '../../src/contract/jobs.js';
import { createWorld, type World } from '../helpers/world.js';

describe('wire contract', () => {
  let world: World;
  let token: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    token = await world.token('user', 'contract-alice');
  });
  afterAll(async () => world?.close());

  const get = (path: string) => request(world.app).get(path).set('Authorization', `Bearer ${token}`);

  it('parses the upload answer, the stored FileMetadata, a search page, exists and info without loss', async () => {
    const upload = await request(world.app)
      .post('/api/v1/files/upload?wait=20')
      .set('Authorization', `Bearer ${token}`)
      .field('tags', 'contract,wire')
      .field('metadata', JSON.stringify({ source: 'contract test' }))
      .attach('file', randomBytes(2048), 'contract.bin');
    expect(upload.status).toBe(201);
    const jobs = jobListSchema.parse(upload.body);
    expect(jobs).toEqual(upload.body);
    const job = jobs.jobs[0]!;
    expect(job.state).toBe('committed');

    const meta = await get(`/api/v1/files/${job.fileId}/metadata`);
    expect(fileMetadataSchema.parse(meta.body)).toEqual(meta.body);
    expect(meta.body).toMatchObject({ fileName: 'contract.bin', tags: ['contract', 'wire'], metadata: { source: 'contract test' } });

    const page = await get(`/api/v1/files/search?sha256=${meta.body.sha256}`);
    expect(filePageSchema.parse(page.body)).toEqual(page.body);
    expect(page.body.items.map((f: { id: string }) => f.id)).toContain(job.fileId);

    const exists = await request(world.app)
      .post('/api/v1/files/exists')
      .set('Authorization', `Bearer ${token}`)
      .send({ sha256: [meta.body.sha256] });
    expect(existsAnswerSchema.parse(exists.body)).toEqual({ present: [meta.body.sha256], missing: [] });

    const info = await get('/api/v1/info');
    expect(elementInfoSchema.parse(info.body)).toEqual(info.body);
  });
});
