// The CLI's environment variables. The CLI is a separate program from the service (it runs on an ingesting
// machine, without the service's config), so it does not use src/shared/config.ts; this is its one reader of process.env.

export interface CliEnv {
  /** Default for --url. */
  url?: string;
  /** Default for --token. */
  token?: string;
  /**
   * Test hook, honoured only with NODE_ENV=test: after this local file is hashed, its first bytes are overwritten,
   * so the upload carries bytes that differ from the declared sha256 (a file changed between hash and upload).
   */
  corruptAfterHash?: string;
}

export function readCliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const nonEmpty = (v: string | undefined) => (v && v.trim() !== '' ? v.trim() : undefined);
  return {
    url: nonEmpty(env.ARTSTORE_URL),
    token: nonEmpty(env.ARTSTORE_TOKEN),
    corruptAfterHash: env.NODE_ENV === 'test' ? nonEmpty(env.ARTSTORE_CLI_TEST_CORRUPT_AFTER_HASH) : undefined,
  };
}
