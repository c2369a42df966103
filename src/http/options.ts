/**
 * The options of `ClientSession` and of its requests, and their validation.
 *
 * @module
 */
import type { BackoffOptions } from "./retry.ts";

/** Time limits in milliseconds; `null` means none. */
export interface TimeoutOptions {
  /**
   * The whole request: waiting for a connection slot, connecting, redirects, retries and their
   * waits, and reading the body (default 300_000, as aiohttp).
   */
  total?: number | null | undefined;
  /** Establishing a TCP connection; enforced by undici (default 30_000). Session-wide only. */
  connect?: number | null | undefined;
  /**
   * The response headers must arrive within `read` ms of sending the request (connecting
   * included), and no gap between body chunks may be longer (default null).
   */
  read?: number | null | undefined;
}

/** Options of `new ClientSession()`. */
export interface ClientSessionOptions {
  /** Relative request URLs are resolved against it (`new URL(url, baseUrl)`). */
  baseUrl?: string | URL | undefined;
  /** Headers sent with every request; a request's own headers override them. */
  headers?: Readonly<Record<string, string>> | undefined;
  /** At most this many requests in flight at once, in all (default 100; null: no cap). */
  limit?: number | null | undefined;
  /** At most this many connections to one origin (default null: only `limit` applies). */
  limitPerHost?: number | null | undefined;
  /** Time limits (see `TimeoutOptions`). */
  timeout?: TimeoutOptions | undefined;
  /** Throw `HttpError` for a final status >= 400, instead of returning it (default false). */
  raiseForStatus?: boolean | undefined;
  /** The largest response body accepted, in bytes (default null: no cap). */
  maxBodySize?: number | null | undefined;
  /** Redirects followed before `TooManyRedirects` (default 10; 0: return the 3xx response). */
  maxRedirects?: number | undefined;
  /** Retries of an idempotent request after a connection error or a `retryOn` status (default 2). */
  retries?: number | undefined;
  /** Waits between attempts (see `BackoffOptions`). */
  backoff?: BackoffOptions | undefined;
  /** Statuses that are retried (default 408, 429, 500, 502, 503, 504). */
  retryOn?: readonly number[] | undefined;
  /** At most this many requests per second to one host (default null: no limit). */
  rateLimit?: number | null | undefined;
  /** Requests that may go at once under `rateLimit` after a quiet spell (default 1). */
  rateBurst?: number | undefined;
}

/** Options of one request; the ones shared with the session override it for this request. */
export interface RequestOptions {
  /** Headers for this request (names are case-insensitive). */
  headers?: Readonly<Record<string, string>> | undefined;
  /** Query parameters appended to the URL. */
  query?: Readonly<Record<string, string | number | boolean>> | undefined;
  /** A request body. */
  body?: string | Uint8Array | undefined;
  /** A value sent as JSON (sets `content-type: application/json`). */
  json?: unknown;
  /** This request's total and read timeouts (the connect timeout is the session's). */
  timeout?: Pick<TimeoutOptions, "total" | "read"> | undefined;
  /** As the session option, for this request. */
  raiseForStatus?: boolean | undefined;
  /** As the session option, for this request. */
  maxBodySize?: number | null | undefined;
  /** As the session option, for this request. */
  maxRedirects?: number | undefined;
  /** As the session option, for this request. */
  retries?: number | undefined;
}

/** @internal A number >= `min` (or null when `nullable`); undefined means "the default". */
export function check(
  where: string,
  name: string,
  value: unknown,
  min: number,
  nullable: boolean,
): void {
  if (value === undefined || (nullable && value === null)) return;
  if (typeof value !== "number" || Number.isNaN(value) || value < min) {
    throw new RangeError(
      `${where}: "${name}" must be a number >= ${min}${nullable ? " or null" : ""}, got ${typeof value === "number" ? value : JSON.stringify(value)}`,
    );
  }
}

/** @internal Like `check`, and an integer. */
export function checkInt(
  where: string,
  name: string,
  value: unknown,
  min: number,
  nullable: boolean,
): void {
  check(where, name, value, min, nullable);
  if (typeof value === "number" && !Number.isInteger(value)) {
    throw new RangeError(`${where}: "${name}" must be an integer, got ${value}`);
  }
}
