// Admin browser sessions for Bull Board: an admin token is exchanged for a short-lived HttpOnly cookie whose
// id lives in Redis (so every API process honours it); the guard accepts that cookie or the bearer header.
import { randomBytes } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Redis } from 'ioredis';
import type { TokenVerifier } from '../shared/auth/token-verifier.js';
import { can, type Principal } from '../shared/domain/principal.js';
import { AppError } from '../shared/errors.js';

export const SESSION_COOKIE = 'artstore_admin';
export const SESSION_TTL_SECONDS = 15 * 60;

export class AdminSessions {
  constructor(
    private readonly redis: Redis,
    private readonly queuePrefix: string,
  ) {}

  private key(id: string): string {
    return `${this.queuePrefix}:admin-session:${id}`;
  }

  /** Creates a session for an admin principal; returns the cookie value. */
  async create(principal: Principal): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    await this.redis.set(this.key(id), JSON.stringify(principal), 'EX', SESSION_TTL_SECONDS);
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

export function setSessionCookie(res: Response, id: string, secure: boolean): void {
  res.cookie(SESSION_COOKIE, id, {
    httpOnly: true,
    // Strict: Bull Board's actions (retry, clean, pause) cannot be triggered from another site.
    sameSite: 'strict',
    secure,
    path: '/admin',
    maxAge: SESSION_TTL_SECONDS * 1_000,
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
