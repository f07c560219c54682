// The real tus-js-client 4.3.1 (tus-v1 and its IETF draft modes, interop versions 6 and 5) against two API processes sharing one element:
// 50 MiB in chunks, the connection cut twice mid-chunk, resumed (the second time on the other process).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { openApiContext, type ApiContext } from '../../src/api/context.js';
import { createLogger } from '../../src/shared/logger.js';
import { binaryParser } from '../helpers/http.js';
import { serve, type Served } from '../helpers/serve.js';
import { createWorld, type World } from '../helpers/world.js';
import { sha256, uploadWithTusClient } from './resumable-harness.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const MiB = 1024 * 1024;

describe('resumable uploads with tus-js-client', () => {
  let world: World;
  let apiB: ApiContext;
  let servedA: Served;
  let servedB: Served;
  let user: string;

  beforeAll(async () => {
    world = await createWorld({ worker: true });
    // A second API process of the same element: same database, Redis prefix and staging.
    apiB = await openApiContext(world.config, createLogger(world.config, 'test'));
    servedA = await serve(world.app);
    servedB = await serve(createApp(apiB));
    user = await world.token('user', 'alice');
  });
  afterAll(async () => {
    await servedA?.close();
    await servedB?.close();
    await apiB?.close();
    await world?.close();
  });

  it('advertises tus 1.0 and its extensions on OPTIONS', async () => {
    const res = await request(world.app).options('/api/v1/uploads/tus');
    expect(res.status).toBe(204);
    expect(res.headers['tus-version']).toBe('1.0.0');
    expect(res.headers['tus-extension']).toBe('creation,creation-with-upload,termination,expiration');
    expect(res.headers['tus-max-size']).toBe(String(world.config.maxUploadBytes));
  });

  for (const [protocol, endpoint] of [
    ['tus-v1', '/api/v1/uploads/tus'],
    ['ietf-draft-05', '/api/v1/uploads'],
    // Interop version 5: appends carry no Content-Type.
    ['ietf-draft-03', '/api/v1/uploads'],
  ] as const) {
    it(`${protocol}: 50 MiB in chunks survives two cuts, the second resumed on the other API process`, async () => {
      const data = randomBytes(50 * MiB);
      const proxy = await TcpProxy.open({ host: '127.0.0.1', port: servedA.port });
      const cuts: number[] = [];
      world.api.resumableHooks = {
        afterChunk: (_id, offset) => {
          // Mid-chunk (chunks are 8 MiB): once at 12 MiB on A (resumed on A), once at 30 MiB (resumed on B).
          if (cuts.length === 0 && offset >= 12 * MiB) {
            cuts.push(offset);
            proxy.resetConnections();
          } else if (cuts.length === 1 && offset >= 30 * MiB) {
            cuts.push(offset);
            proxy.switchTo(servedB.port);
            proxy.resetConnections();
          }
        },
      };
      try {
        const result = await uploadWithTusClient(proxy.url + endpoint, user, data, {
          protocol,
          chunkSize: 8 * MiB,
          metadata: { filename: `scan-${protocol}.bin`, filetype: 'application/octet-stream', sha256: sha256(data), tags: 'scans' },
        });
        expect(cuts).toHaveLength(2);
        // Resumed, not restarted: the client created exactly one upload.
        expect(await world.api.db.resumableUpload.count({ where: { fileName: `scan-${protocol}.bin` } })).toBe(1);
        expect(result.jobId).toMatch(/^[0-9a-f-]{36}$/);
        const status = await request(servedB.server).get(`/api/v1/uploads/${result.url.split('/').pop()}`).set('Authorization', `Bearer ${user}`);
        expect(status.body).toMatchObject({ offset: data.length, length: data.length, complete: true, jobId: result.jobId });

        const job = await world.waitForJob(result.jobId!, user, 60_000);
        expect(job).toMatchObject({ state: 'committed', sha256: sha256(data), size: data.length, fileName: `scan-${protocol}.bin` });
        const dl = await request(world.app).get(`/api/v1/files/${job.fileId}`).set('Authorization', `Bearer ${user}`).buffer(true).parse(binaryParser);
        expect(dl.status).toBe(200);
        expect(sha256(dl.body as Buffer)).toBe(sha256(data));
        // Nothing of the upload is left in staging: its own file went when the job took the bytes.
        expect(await fs.readdir(`${world.config.stagingPath}/resumable`)).toEqual([]);
      } finally {
        world.api.resumableHooks = undefined;
        await proxy.close();
      }
    }, 120_000);
  }
});
