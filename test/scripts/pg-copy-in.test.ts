// copyIn (COPY ... FROM STDIN on a pg client): the rows copied, and an error of the server or of the lines settles
// the promise with that error and leaves the client usable (pg drops its active query at an ErrorResponse, so the
// ReadyForQuery after it never reaches the COPY).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { copyIn } from '../../scripts/pg-copy-in.js';

describe('copyIn', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: inject('testEnv').databaseUrl });
    await client.connect();
    await client.query('CREATE TEMP TABLE copy_probe (n int NOT NULL, t text)');
  });

  afterAll(async () => {
    await client?.end();
  });

  it('copies the lines and resolves with the rows copied', async () => {
    expect(await copyIn(client, 'copy_probe (n, t)', ['1\tone\n', '2\t\\N\n'])).toBe(2);
    const { rows } = await client.query('SELECT n, t FROM copy_probe ORDER BY n');
    expect(rows).toEqual([{ n: 1, t: 'one' }, { n: 2, t: null }]);
  });

  it('rejects with the server\'s error for a row it refuses, and the client runs the next statement', async () => {
    await expect(copyIn(client, 'copy_probe (n, t)', ['3\tthree\n', 'x\tbad\n'])).rejects.toThrow(/invalid input syntax for type integer/);
    expect((await client.query('SELECT count(*)::int AS n FROM copy_probe')).rows[0].n).toBe(2);
  }, 10_000);

  it('rejects with the error of the lines when they throw (COPY failed, nothing copied)', async () => {
    function* lines(): Generator<string> {
      yield '4\tfour\n';
      throw new Error('no more rows today');
    }
    await expect(copyIn(client, 'copy_probe (n, t)', lines())).rejects.toThrow(/no more rows today/);
    expect((await client.query('SELECT count(*)::int AS n FROM copy_probe')).rows[0].n).toBe(2);
  }, 10_000);
});
