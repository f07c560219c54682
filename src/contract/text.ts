// What text and JSON the element accepts (SPEC §5): PostgreSQL refuses NUL and unpaired surrogates, and deep or
// non-finite JSON breaks every walker after us. The one rule behind refusing them at every edge; imports only zod.
import { z } from 'zod';

/** An unpaired UTF-16 surrogate (String.prototype.isWellFormed is ES2024, past our lib setting). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why a string cannot be stored, or undefined: PostgreSQL refuses NUL in text and jsonb, and jsonb refuses an
 * unpaired surrogate (JSON.stringify writes it as a \ud800 escape; in text it would silently become U+FFFD).
 * Other control characters are valid text and stay.
 */
export function unstorableTextReason(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain NUL (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (no unpaired surrogate)';
  return undefined;
}

const utf8 = new TextEncoder();

/** UTF-8 length of text (as Buffer.byteLength, an unpaired surrogate counting as U+FFFD), without Node's Buffer. */
export function utf8Bytes(text: string): number {
  return utf8.encode(text).length;
}

/**
 * Deeper JSON than this is refused: no resource of ours needs it, and a few thousand levels (which fit in 1 MB)
 * overflow the stack of JSON.stringify and of every recursive walker after us.
 */
export const MAX_INPUT_DEPTH = 32;

export interface InputFault {
  /** Keys from the checked value down to the offending one (empty: the value itself). */
  path: string[];
  reason: string;
}

/** A string PostgreSQL can store, for values that are parsed out of a field after the guard saw it. */
export const storableText = z.string().superRefine((text, ctx) => {
  const reason = unstorableTextReason(text);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
});

interface Pending {
  value: unknown;
  depth: number;
  key?: string;
  parent?: Pending;
}

function pathOf(node: Pending | undefined): string[] {
  const keys: string[] = [];
  for (let n = node; n?.key !== undefined; n = n.parent) keys.push(n.key);
  return keys.reverse();
}

/**
 * The first fault in a parsed value (strings, arrays, plain objects), or undefined. Iterative on purpose: a
 * recursive walk would overflow on exactly the input it is meant to refuse.
 */
export function findInputFault(value: unknown, maxDepth = MAX_INPUT_DEPTH): InputFault | undefined {
  const stack: Pending[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const v = node.value;
    if (typeof v === 'string') {
      const reason = unstorableTextReason(v);
      if (reason) return { path: pathOf(node), reason };
      continue;
    }
    // JSON.parse reads 1e400 as Infinity, which JSON.stringify writes back as null: refuse, do not change the value.
    if (typeof v === 'number' && !Number.isFinite(v)) return { path: pathOf(node), reason: 'a number out of range' };
    if (v === null || typeof v !== 'object') continue;
    if (node.depth >= maxDepth) return { path: pathOf(node), reason: `nested deeper than ${maxDepth} levels` };
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((item, i) => [String(i), item]) : Object.entries(v);
    for (const [key, item] of entries) {
      const keyReason = unstorableTextReason(key);
      // The key itself cannot be shown safely; the parent's path names where it is.
      if (keyReason) return { path: pathOf(node), reason: `a key ${keyReason}` };
      // JSON.parse makes "__proto__" an own key; copying it anywhere (zod records, spreads) would set a prototype.
      if (key === '__proto__') return { path: pathOf(node), reason: "a key must not be '__proto__'" };
      stack.push({ value: item, depth: node.depth + 1, key, parent: node });
    }
  }
  return undefined;
}
