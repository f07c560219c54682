// Ids as the element writes them: hex UUIDs of any version. Imports nothing of the server.

/** A UUID as stored and sent (lower-case hex). */
export const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether s is a hex UUID in either case (a path or query id, lower-cased before use). */
export function isUuid(s: string): boolean {
  return LOWER_UUID.test(s.toLowerCase());
}
