// Bearer authentication and permission checks for every /api/v1 route (SPEC §3).
import type { Request, RequestHandler, Response } from 'express';
import type { RequestingPrincipal } from '../shared/domain/audit-events.js';
import type { TokenVerifier } from '../shared/auth/token-verifier.js';
import { AppError } from '../shared/errors.js';
import type { Principal } from '../shared/domain/principal.js';

export function authenticate(verifier: TokenVerifier): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new AppError('unauthorized', header ? 'Authorization must be "Bearer <token>"' : 'missing bearer token');
    res.locals.principal = await verifier.verify(match[1]!);
    next();
  };
}


export function principalOf(res: Response): Principal {
  const principal = res.locals.principal as Principal | undefined;
  if (!principal) throw new AppError('unauthorized', 'not authenticated');
  return principal;
}

/** The principal with the request's id and client address: what a change's audit event records (issue 17). */
export function actingPrincipalOf(req: Request, res: Response): RequestingPrincipal {
  return { ...principalOf(res), requestId: req.id === undefined ? null : String(req.id), clientAddress: req.ip ?? req.socket.remoteAddress ?? null };
}
