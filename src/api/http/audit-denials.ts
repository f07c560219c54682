// Records a request answered 401 or 403 as an auth_denied audit event (the recorder rate-limits them).
import type { Request, Response } from 'express';
import type { Principal } from '../../shared/domain/principal.js';
import type { AuditRecorder } from '../../shared/domain/audit-recorder.js';

/** Called by the request edge for every response that finished (requestEdge in access-log.ts). */
export function recordDenial(audit: Pick<AuditRecorder, 'denied'>, req: Request, res: Response): void {
  if (res.statusCode !== 401 && res.statusCode !== 403) return;
  const origin = { requestId: req.id === undefined ? null : String(req.id), clientAddress: req.ip ?? req.socket.remoteAddress ?? null };
  const principal = res.locals.principal as Principal | undefined;
  const details = {
    status: res.statusCode,
    code: res.statusCode === 401 ? 'unauthorized' : 'forbidden',
    method: req.method,
    path: req.path.slice(0, 512),
  };
  audit.denied(principal ? { ...principal, ...origin } : undefined, origin, details);
}
