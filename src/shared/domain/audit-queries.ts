// Reading the audit trail (GET /api/v1/audit): who may see which events, and keyset pages newest first.
import type { AuditPage, AuditQuery } from '../../contract/audit.js';
import { AUDIT_PAGE_DEFAULT_LIMIT } from '../../contract/audit.js';
import { selectAuditPage } from '../records/audit-events.js';
import type { Db } from '../records/database.js';
import { can, type Principal } from './principal.js';

/**
 * Operators and admins read every event; a user only the events of files it owns (auth_denied, mode changes and
 * other element-wide events carry no file and stay hidden from it). The cursor is the last seq of the page before.
 */
export async function listAuditEvents(db: Db, principal: Principal, query: AuditQuery): Promise<AuditPage> {
  const limit = query.limit ?? AUDIT_PAGE_DEFAULT_LIMIT;
  const rows = await selectAuditPage(db, {
    fileId: query.fileId,
    actor: query.actor,
    action: query.action,
    from: query.from,
    to: query.to,
    ownedBy: can(principal, 'audit:read-all') ? undefined : principal.sub,
    beforeSeq: query.cursor ? BigInt(query.cursor) : undefined,
    limit: limit + 1,
  });
  const items = rows.slice(0, limit);
  return { items: items as AuditPage['items'], nextCursor: rows.length > limit ? items[items.length - 1]!.seq : null };
}
