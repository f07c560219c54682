// Config from the environment: defaults of SPEC §2, and one clear line per bad value.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/shared/config.js';

describe('config', () => {
  it('has the defaults of SPEC §2', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8010,
      host: '127.0.0.1',
      databaseUrl: 'postgresql://postgres@127.0.0.1:5432/artstore',
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'artstore',
      elementId: 'se-01',
      appMode: 'edit',
      maxUploadBytes: 1073741824,
      maxFilesPerUpload: 100,
      storageMaxBytes: 0,
      workerConcurrency: 16,
      logLevel: 'info',
    });
    expect(c.hashThreads).toBeGreaterThanOrEqual(1);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every bad value, one line each', () => {
    try {
      loadConfig({ PORT: 'eighty', APP_MODE: 'rwx', MAX_UPLOAD_BYTES: '-1', REDIS_URL: 'http://x' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems;
      expect(problems).toHaveLength(4);
      expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['APP_MODE', 'MAX_UPLOAD_BYTES', 'PORT', 'REDIS_URL']);
    }
  });

  it('requires a JWT key in production and refuses two key sources', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/required in production/);
    expect(() => loadConfig({ JWT_PUBLIC_KEY: 'x', JWT_PUBLIC_KEY_FILE: '/k.pem' })).toThrow(/at most one/);
  });

  it('refuses a JWKS URL that is neither https nor http, and a short METRICS_TOKEN', () => {
    expect(() => loadConfig({ JWT_JWKS_URL: 'file:///etc/jwks.json' })).toThrow(/JWT_JWKS_URL: must be an https:\/\//);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: use at least 16 characters/);
    expect(loadConfig({ METRICS_TOKEN: 'a-long-enough-scrape-token' }).metricsToken).toBe('a-long-enough-scrape-token');
    expect(loadConfig({}).metricsCacheMs).toBe(5_000);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', ELEMENT_ID: '' })).toMatchObject({ port: 8010, elementId: 'se-01' });
  });

  it('reads the S3 backend settings of SPEC §8 and keeps the prefix exactly as given', () => {
    const c = loadConfig({
      BLOB_BACKEND: 's3',
      S3_ENDPOINT: 'http://127.0.0.1:7480',
      S3_BUCKET: 'archive',
      S3_PREFIX: 'se-01/',
      S3_ACCESS_KEY_ID: 'AK',
      S3_SECRET_ACCESS_KEY: 'SK',
    });
    expect(c.blobBackend).toBe('s3');
    expect(c.s3).toEqual({
      endpoint: 'http://127.0.0.1:7480',
      region: 'us-east-1',
      bucket: 'archive',
      prefix: 'se-01/',
      credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    });
    expect(loadConfig({}).s3).toBeUndefined();
  });

  it('refuses s3 without a bucket and half a credential pair', () => {
    expect(() => loadConfig({ BLOB_BACKEND: 's3' })).toThrow(/S3_BUCKET: required/);
    expect(() => loadConfig({ BLOB_BACKEND: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'AK' })).toThrow(/set both or neither/);
  });

  it('on a Redis Cluster defaults the queue prefix to a hash tag and refuses one without', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7001, 127.0.0.1:7002,[::1]:7003' });
    expect(c.redisClusterNodes).toEqual([
      { host: '127.0.0.1', port: 7001 },
      { host: '127.0.0.1', port: 7002 },
      { host: '::1', port: 7003 },
    ]);
    expect(c.queuePrefix).toBe('{artstore}');
    expect(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7001', QUEUE_PREFIX: 'x{t}' }).queuePrefix).toBe('x{t}');
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7001', QUEUE_PREFIX: 'plain' })).toThrow(/hash tag/);
    // Redis hashes a key whole when its first {...} is empty: no tag, whatever follows.
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7001', QUEUE_PREFIX: 'x{}{y}' })).toThrow(/hash tag/);
    expect(() => loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1' })).toThrow(/not host:port/);
    expect(loadConfig({}).redisClusterNodes).toBeUndefined();
  });
});
