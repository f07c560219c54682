// Principals and roles: who may do what (SPEC §3). The API enforces it; the domain relies on it.
export const ROLES = ['readonly', 'user', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  /** The token's `sub`: stored as a file's owner and a job's principal. */
  sub: string;
  role: Role;
  name?: string;
  /** The token's optional `type` claim (`admin_user`, `service_account`), recorded in the audit trail. */
  type?: string;
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
  /** Audit trail (SPEC §11): a user reads the events of its own files, operators and admins all. */
  | 'audit:read'
  | 'audit:read-all';

const READONLY: Permission[] = ['file:read', 'job:read-own', 'element:info'];
const USER: Permission[] = [...READONLY, 'file:upload', 'file:patch-own', 'audit:read'];
const OPERATOR: Permission[] = [...USER, 'file:patch-any', 'file:delete', 'file:legal-hold', 'job:read-all', 'audit:read-all'];
const ADMIN: Permission[] = [...OPERATOR, 'element:mode', 'admin:queues', 'admin:scrub', 'admin:rebuild'];

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  readonly: new Set(READONLY),
  user: new Set(USER),
  operator: new Set(OPERATOR),
  admin: new Set(ADMIN),
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function can(principal: Principal, permission: Permission): boolean {
  return GRANTS[principal.role].has(permission);
}
