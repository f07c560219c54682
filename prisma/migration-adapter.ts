// Driver adapter for Prisma's JS schema engine, with the three adapter-pg workarounds migrations need offline.
import pg from 'pg';
import { parseIntoClientConfig } from 'pg-connection-string';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';

const PG_NAME_OID = 19;
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

type QueryResultLike = { fields?: Array<{ dataTypeID: number }> };

function catalogTypesAsText(result: unknown): unknown {
  for (const field of (result as QueryResultLike | undefined)?.fields ?? []) {
    if (field.dataTypeID === PG_NAME_OID || field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
  }
  return result;
}

/**
 * Workaround 1 (prisma/orm#27403): adapter-pg cannot deserialize the catalog's `name` (oid 19) and `"char"`
 * (oid 18) columns that the migration engine selects, so this client reports them as text (oid 25).
 */
class CatalogTextClient extends pg.Client {
  // pg's overloads (promise, callback, submittable) are not expressible in one override signature.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      args[args.length - 1] = (err: Error | null, res: unknown) => last(err, catalogTypesAsText(res));
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    const out = (super.query as (...a: unknown[]) => unknown)(...args);
    return out instanceof Promise ? out.then(catalogTypesAsText) : out;
  }
}

function clientConfig(url: string, database?: string): pg.ClientConfig {
  // Workaround 2: given a connectionString, adapter-pg's shadow connection keeps the URL's database, so the
  // "shadow" would be the main database (P3006). Discrete fields (as pg reads the URL: a Unix socket's ?host=, ssl
  // parameters) let the shadow database differ.
  const fields = parseIntoClientConfig(url);
  return { ...fields, database: database ?? (fields.database || 'postgres') };
}

function poolConfig(url: string, database?: string): pg.PoolConfig {
  return { ...clientConfig(url, database), Client: CatalogTextClient };
}

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;

/**
 * Workaround 4: adapter-pg's executeScript splits a migration on every ";", which breaks function bodies
 * (plpgsql triggers). PostgreSQL's simple query protocol runs a whole script in one round trip (as one
 * implicit transaction, so a migration applies completely or not at all).
 */
function wholeScripts(adapter: PgAdapter): PgAdapter {
  const onError = (adapter as unknown as { onError(err: unknown): never }).onError.bind(adapter);
  adapter.executeScript = async (script: string) => {
    try {
      await adapter.underlyingDriver().query(script);
    } catch (err) {
      onError(err);
    }
  };
  return adapter;
}

export function migrationAdapterFactory(url: string): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPg(poolConfig(url));
  return {
    provider: 'postgres',
    adapterName: main.adapterName,
    connect: async () => wholeScripts(await main.connect()),
    /**
     * Workaround 3: adapter-pg drops its shadow database while its own pool is still connected ("being
     * accessed by other users"). Ours closes the pool first, then drops WITH (FORCE).
     */
    async connectToShadowDb() {
      const name = `prisma_shadow_${crypto.randomUUID().replaceAll('-', '')}`;
      const admin = new pg.Client(clientConfig(url));
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${name}"`);
      } finally {
        await admin.end();
      }
      const adapter = wholeScripts(await new PrismaPg(poolConfig(url, name)).connect());
      const dispose = adapter.dispose.bind(adapter);
      adapter.dispose = async () => {
        await dispose();
        const dropper = new pg.Client(clientConfig(url));
        await dropper.connect();
        try {
          await dropper.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } finally {
          await dropper.end();
        }
      };
      return adapter;
    },
  };
}
