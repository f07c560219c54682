// Records every request answered 401 or 403 as an auth_denied audit event (the recorder rate-limits them).
import type { RequestHandler } from 'express';
import type { Principal } from '../../shared/domain/principal.js';
import type { AuditRecorder } from '../../shared/domain/audit-recorder.js';

export function auditDenials(audit: Pick<AuditRecorder, 'denied'>): RequestHandler {
  return (req, res, next) => {
    res.once('finish', () => {
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
    });
    next();
  };
}
