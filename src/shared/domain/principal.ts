// Principals and roles: who may do what (SPEC §3). The API enforces it; the domain relies on it.
export const ROLES = ['readonly', 'user', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The token's `type` claim (SPEC §3, §10): a person at the Admin Module, or another ArtStore module. */
export const PRINCIPAL_TYPES = ['admin_user', 'service_account'] as const;
export type PrincipalType = (typeof PRINCIPAL_TYPES)[number];

export interface Principal {
  /** The token's `sub`: stored as a file's owner and a job's principal. */
  sub: string;
  role: Role;
  name?: string;
  /** Absent when the token has no `type` claim (or one this element does not know: it then grants nothing more). */
  type?: PrincipalType;
}

export type Permission =
  | 'file:read'
  | 'file:upload'
  | 'file:patch-own'
  | 'file:patch-any'
  | 'file:delete'
  | 'file:legal-hold'
  | 'job:read-own'
  | 'job:read-all'
  | 'element:info'
  | 'element:mode'
  | 'admin:queues'
  | 'admin:scrub'
  | 'admin:rebuild'
  /** The cluster interfaces of SPEC §10: GC of files and index maintenance, for a service account or an admin. */
  | 'cluster:gc'
  | 'cluster:index'
  /** Audit trail (SPEC §11): a user reads the events of its own files, operators and admins all. */
  | 'audit:read'
  | 'audit:read-all';

const READONLY: Permission[] = ['file:read', 'job:read-own', 'element:info'];
const USER: Permission[] = [...READONLY, 'file:upload', 'file:patch-own', 'audit:read'];
const OPERATOR: Permission[] = [...USER, 'file:patch-any', 'file:delete', 'file:legal-hold', 'job:read-all', 'audit:read-all'];
const CLUSTER: Permission[] = ['cluster:gc', 'cluster:index'];
const ADMIN: Permission[] = [...OPERATOR, 'element:mode', 'admin:queues', 'admin:scrub', 'admin:rebuild', ...CLUSTER];
/**
 * A service account (the Admin Module, the Ingester) may run GC and index maintenance when its role is operator
 * or admin; one with role user or readonly (a read-only integration, say) may not delete anything through them.
 */
const SERVICE_ACCOUNT_ROLES: ReadonlySet<Role> = new Set(['operator', 'admin']);
const SERVICE_ACCOUNT: ReadonlySet<Permission> = new Set(CLUSTER);

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  readonly: new Set(READONLY),
  user: new Set(USER),
  operator: new Set(OPERATOR),
  admin: new Set(ADMIN),
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function isPrincipalType(value: unknown): value is PrincipalType {
  return typeof value === 'string' && (PRINCIPAL_TYPES as readonly string[]).includes(value);
}

export function can(principal: Principal, permission: Permission): boolean {
  if (GRANTS[principal.role].has(permission)) return true;
  return principal.type === 'service_account' && SERVICE_ACCOUNT_ROLES.has(principal.role) && SERVICE_ACCOUNT.has(permission);
}
