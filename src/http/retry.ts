/**
 * Retry policy: which requests may be repeated, how long to wait between attempts
 * (exponential backoff with full jitter), and how to read `Retry-After`.
 *
 * @module
 */

/** Methods that may be sent twice without changing the outcome (RFC 9110 §9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "PUT",
  "DELETE",
  "TRACE",
]);

/** Statuses retried by default: request timeout, too many requests, and transient 5xx. */
export const DEFAULT_RETRY_ON: readonly number[] = [408, 429, 500, 502, 503, 504];

/** How long to wait between attempts. Every field is in milliseconds. */
export interface BackoffOptions {
  /** The first retry waits up to `base`, the n-th up to `base * 2^(n-1)` (default 100). */
  base?: number | undefined;
  /** The cap on one wait computed by the backoff (default 10_000). */
  max?: number | undefined;
  /** The cap on a wait asked for by `Retry-After` (default 30_000). */
  maxRetryAfter?: number | undefined;
}

/**
 * The wait before retry number `attempt` (0 for the first retry): "full jitter", a uniformly
 * random wait between 0 and `min(max, base * 2^attempt)`. Spreading the retries of many clients
 * over the whole window avoids synchronised retry storms (AWS Architecture Blog, "Exponential
 * Backoff And Jitter", 2015).
 */
export function backoffDelay(
  attempt: number,
  base: number,
  max: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return random() * ceiling;
}

/**
 * A `Retry-After` header in milliseconds from now: either delay-seconds (`"120"`) or an
 * HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`; a date in the past gives 0). `undefined` when
 * the header is absent or unreadable.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === "") return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date names a day and a month ("Sun, 06 Nov 1994 08:49:37 GMT" and the two obsolete
  // forms); anything else (such as "-5", which Date.parse takes for a year) is unreadable.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
