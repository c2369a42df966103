/**
 * aiots/http: an HTTP client for aiots programs, on undici (aiohttp's client for asyncio).
 * Requests are cancelled with their task, timeouts are aiots timeouts, and idempotent requests
 * are retried with backoff.
 *
 * @module
 */

export {
  BodyTooLarge,
  ClientError,
  ConnectError,
  ConnectTimeout,
  HttpError,
  InvalidUrl,
  ReadTimeout,
  type RequestInfo,
  RequestTimeout,
  ServerDisconnected,
  TooManyRedirects,
} from "./errors.ts";
export type { ClientSessionOptions, RequestOptions, TimeoutOptions } from "./options.ts";
export { RateLimiter } from "./rate-limit.ts";
export { ClientResponse, type ResponseHeaders } from "./response.ts";
export {
  type BackoffOptions,
  backoffDelay,
  DEFAULT_RETRY_ON,
  IDEMPOTENT_METHODS,
  parseRetryAfter,
} from "./retry.ts";
export { ClientSession } from "./session.ts";
