// Admin browser sessions for Bull Board: an admin token is exchanged for a short-lived HttpOnly cookie whose
// id lives in Redis (so every API process honours it); the guard accepts that cookie or the bearer header.
import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { RedisConnection } from '../shared/redis.js';
import { decodeJwt } from 'jose';
import type { TokenVerifier } from '../shared/auth/token-verifier.js';
import type { Config } from '../shared/config.js';
import { can, type Principal } from '../shared/domain/principal.js';
import { AppError } from '../shared/errors.js';

export const SESSION_COOKIE = 'artstore_admin';
export const SESSION_TTL_SECONDS = 15 * 60;

export class AdminSessions {
  constructor(
    private readonly redis: RedisConnection,
    private readonly queuePrefix: string,
  ) {}

  private key(id: string): string {
    return `${this.queuePrefix}:admin-session:${id}`;
  }

  /** Creates a session for an admin principal that lasts `ttlSeconds`; returns the cookie value. */
  async create(principal: Principal, ttlSeconds: number): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.redis.set(this.key(id), JSON.stringify(principal), 'EX', ttlSeconds);
    return id;
  }

  async get(id: string): Promise<Principal | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    const raw = await this.redis.get(this.key(id));
    return raw ? (JSON.parse(raw) as Principal) : null;
  }

  async destroy(id: string): Promise<void> {
    if (/^[A-Za-z0-9_-]{43}$/.test(id)) await this.redis.del(this.key(id));
  }
}

/**
 * Seconds a session started with this (already verified) bearer token may last: SESSION_TTL_SECONDS, and never past
 * the token's own exp: an admin's access ends when the token does, cookie or not.
 */
function sessionTtlSeconds(req: Request, nowMs = Date.now()): number {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
  const exp = token ? decodeJwt(token).exp : undefined;
  if (exp === undefined) throw new AppError('unauthorized', 'a session needs a bearer token with exp');
  const ttl = Math.min(SESSION_TTL_SECONDS, Math.floor(exp - nowMs / 1_000));
  // The verifier tolerates 30 s of clock skew past exp; a session may not.
  if (ttl < 1) throw new AppError('unauthorized', 'token expired');
  return ttl;
}

/**
 * Secure whenever the browser reached us over TLS (req.secure, which honours X-Forwarded-Proto when Express's
 * 'trust proxy' is set) and always in production, where TLS usually ends at a proxy in front of the API. Browsers
 * keep Secure cookies from http://localhost, so a production element is still reachable through an SSH tunnel.
 */
function sessionCookieIsSecure(req: Request, nodeEnv: Config['nodeEnv']): boolean {
  return req.secure || nodeEnv === 'production';
}

/** Starts a session for the bearer token's admin: Redis entry and cookie end together, no later than the token. */
export async function startSession(req: Request, res: Response, sessions: AdminSessions, principal: Principal, nodeEnv: Config['nodeEnv']): Promise<void> {
  const ttlSeconds = sessionTtlSeconds(req);
  const id = await sessions.create(principal, ttlSeconds);
  res.cookie(SESSION_COOKIE, id, {
    httpOnly: true,
    // Strict: Bull Board's actions (retry, clean, pause) cannot be triggered from another site.
    sameSite: 'strict',
    secure: sessionCookieIsSecure(req, nodeEnv),
    path: '/admin',
    maxAge: ttlSeconds * 1_000,
  });
}

export function clearSessionCookie(res: Response): void {
  res.clearCookie(SESSION_COOKIE, { path: '/admin' });
}

/** Admins only, by bearer token or session cookie: 401 without either, 403 for a non-admin token. */
export function adminGuard(verifier: TokenVerifier, sessions: AdminSessions): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    let principal: Principal | null = null;
    if (header) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new AppError('unauthorized', 'Authorization must be "Bearer <token>"');
      principal = await verifier.verify(match[1]!);
    } else {
      const cookie = (req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
      principal = cookie ? await sessions.get(cookie) : null;
      if (!principal) throw new AppError('unauthorized', 'sign in at /admin/login with an admin token');
    }
    if (!can(principal, 'admin:queues')) throw new AppError('forbidden', `role '${principal.role}' may not use the queue dashboard`);
    res.locals.principal = principal;
    next();
  };
}
