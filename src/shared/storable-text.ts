// What text PostgreSQL can store: the one rule behind refusing NUL and unpaired surrogates at every edge.

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
