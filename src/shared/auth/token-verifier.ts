// RS256 JWT verification (SPEC §3): key from PEM, PEM file, JWKS URL or the dev keypair; algorithm pinned.
import fs from 'node:fs/promises';
import { createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { isPrincipalType, isRole, type Principal } from '../domain/principal.js';
import { unstorableTextReason } from '../../contract/text.js';
import { ensureDevKeyPair } from './dev-keys.js';

const ALGORITHMS = ['RS256'];
const CLOCK_TOLERANCE_S = 30;
/**
 * Verified tokens are remembered (batch clients send the same token thousands of times; an RS256 check costs
 * more CPU than a status read): at most this many, each for at most CACHE_TTL_MS and never past its exp.
 */
const CACHE_MAX = 10_000;
const CACHE_TTL_MS = 60_000;

type VerifyKey = Awaited<ReturnType<typeof importSPKI>> | JWTVerifyGetKey;

export class TokenVerifier {
  private readonly verified = new Map<string, { principal: Principal; until: number }>();

  private constructor(
    private readonly key: VerifyKey,
    private readonly jwt: Config['jwt'],
    readonly source: string,
  ) {}

  static async create(config: Pick<Config, 'jwt' | 'nodeEnv' | 'devKeysPath'>): Promise<TokenVerifier> {
    const { jwt } = config;
    if (jwt.jwksUrl) return new TokenVerifier(createRemoteJWKSet(new URL(jwt.jwksUrl)), jwt, 'jwks');
    if (jwt.publicKeyPem) return new TokenVerifier(await importSPKI(jwt.publicKeyPem.replace(/\\n/g, '\n'), 'RS256'), jwt, 'env');
    if (jwt.publicKeyFile) return new TokenVerifier(await importSPKI(await fs.readFile(jwt.publicKeyFile, 'utf8'), 'RS256'), jwt, 'file');
    if (config.nodeEnv === 'production') throw new Error('no JWT verification key configured');
    const pair = await ensureDevKeyPair(config.devKeysPath);
    return new TokenVerifier(await importSPKI(pair.publicKeyPem, 'RS256'), jwt, 'dev-keypair');
  }

  /**
   * The principal of a token verified within CACHE_TTL_MS that has not expired since, without waiting: what a hot
   * route asks first (a status poll then takes no promise and no microtask for its authentication). Undefined:
   * call verify().
   */
  remembered(token: string): Principal | undefined {
    const hit = this.verified.get(token);
    if (hit === undefined) return undefined;
    if (hit.until > Date.now()) return hit.principal;
    this.verified.delete(token);
    return undefined;
  }

  /** Verifies a compact JWT and returns its principal; AppError unauthorized (401) or forbidden (403). */
  async verify(token: string): Promise<Principal> {
    const known = this.remembered(token);
    if (known) return known;
    const now = Date.now();
    const { principal, exp } = await this.verifyUncached(token);
    if (this.verified.size >= CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { principal, until: Math.min(now + CACHE_TTL_MS, exp * 1_000) });
    return principal;
  }

  private async verifyUncached(token: string): Promise<{ principal: Principal; exp: number }> {
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'sub'],
        ...(this.jwt.issuer ? { issuer: this.jwt.issuer } : {}),
        ...(this.jwt.audience ? { audience: this.jwt.audience } : {}),
      };
      const result =
        typeof this.key === 'function' ? await jwtVerify(token, this.key, options) : await jwtVerify(token, this.key, options);
      payload = result.payload;
    } catch (err) {
      throw new AppError('unauthorized', describeJoseError(err));
    }
    if (payload.type === 'refresh') throw new AppError('unauthorized', 'refresh tokens are not accepted here');
    if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256 || unstorableTextReason(payload.sub) !== undefined) {
      throw new AppError('unauthorized', 'token has no usable sub claim');
    }
    if (typeof payload.name === 'string' && unstorableTextReason(payload.name) !== undefined) throw new AppError('unauthorized', 'token has an unusable name claim');
    if (!isRole(payload.role)) throw new AppError('forbidden', `unknown role ${JSON.stringify(payload.role ?? null)}`);
    // Cut on a code point, so a surrogate pair at the limit is not split into an unpaired half.
    const name = typeof payload.name === 'string' ? payload.name.slice(0, 256).replace(/[\uD800-\uDBFF]$/, '') : undefined;
    const type = isPrincipalType(payload.type) ? { type: payload.type } : {};
    return { principal: { sub: payload.sub, role: payload.role, ...(name ? { name } : {}), ...type }, exp: payload.exp! };
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token expired';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed (RS256 only)';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim invalid: ${err.claim} (${err.reason})`;
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'token malformed';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'token signed by an unknown key';
  return 'token invalid';
}
