/**
 * The errors of `aiots/http` (aiohttp's client exceptions). Each sets `name` to its class name
 * and carries a stable `code`; `instanceof` works across duplicate copies of the package through
 * a `Symbol.for` brand, as in aiots's own errors.
 *
 * ```
 * ClientError                       anything the client raises about a request
 * ├── HttpError                     a response with status >= 400 under raiseForStatus
 * ├── TooManyRedirects              over maxRedirects, or a redirect loop
 * ├── BodyTooLarge                  a body over maxBodySize (declared or streamed)
 * ├── InvalidUrl                    not an absolute http(s) URL
 * ├── ConnectError                  could not connect (refused, unresolvable, ...)
 * │   └── ConnectTimeout            the connect timeout passed
 * └── ServerDisconnected            the connection broke (reset, closed) mid-exchange
 * TimeoutError (aiots)
 * ├── RequestTimeout                the total timeout passed
 * └── ReadTimeout                   no headers / no body bytes within the read timeout
 * ```
 *
 * @module
 */
import { TimeoutError } from "../index.ts";

const brand: unique symbol = Symbol.for("aiots.http.error.brand") as never;

function hasBrand(value: unknown, code: string): boolean {
  let proto: unknown = value;
  while (proto !== null && typeof proto === "object") {
    if (Object.hasOwn(proto, brand) && (proto as { [brand]: string })[brand] === code) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

function defineBrand(cls: { prototype: object; name: string }, code: string): void {
  Object.defineProperty(cls.prototype, brand, { value: code });
  Object.defineProperty(cls.prototype, "name", {
    value: cls.name,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (instance: unknown): boolean => hasBrand(instance, code),
  });
}

/** What a `ClientError` knows about the request that failed. */
export interface RequestInfo {
  /** The request method. */
  method: string;
  /** The URL requested (the last one, after redirects). */
  url: string;
}

/** The base class of the client's own errors. Mirrors `aiohttp.ClientError`. */
export class ClientError extends Error {
  readonly code: string = "AIOTS_HTTP_ERR_CLIENT";
  /** The request that failed, when there was one. */
  readonly request: RequestInfo | undefined;
  constructor(message: string, options?: ErrorOptions & { request?: RequestInfo }) {
    super(message, options);
    this.request = options?.request;
  }
}
defineBrand(ClientError, "AIOTS_HTTP_ERR_CLIENT");

/**
 * A response whose status is 400 or more, raised by `raiseForStatus` (the option, or the
 * response method). Mirrors `aiohttp.ClientResponseError`. The body was released.
 */
export class HttpError extends ClientError {
  override readonly code: string = "AIOTS_HTTP_ERR_STATUS";
  /** The HTTP status code. */
  readonly status: number;
  /** The response headers (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  constructor(
    status: number,
    statusText: string,
    request: RequestInfo,
    headers: Readonly<Record<string, string | string[] | undefined>> = {},
  ) {
    super(
      `HTTP ${status}${statusText ? ` ${statusText}` : ""} for ${request.method} ${request.url}`,
      {
        request,
      },
    );
    this.status = status;
    this.headers = headers;
  }
}
defineBrand(HttpError, "AIOTS_HTTP_ERR_STATUS");

/** More redirects than `maxRedirects`, or a redirect back to a URL already visited. */
export class TooManyRedirects extends ClientError {
  override readonly code: string = "AIOTS_HTTP_ERR_REDIRECTS";
  /** The URLs visited, the first request's included, in order. */
  readonly history: readonly string[];
  /** True when the chain came back to a URL it had already visited. */
  readonly loop: boolean;
  constructor(message: string, history: readonly string[], loop: boolean, request: RequestInfo) {
    super(message, { request });
    this.history = history;
    this.loop = loop;
  }
}
defineBrand(TooManyRedirects, "AIOTS_HTTP_ERR_REDIRECTS");

/** A response body larger than `maxBodySize`; the body was aborted. */
export class BodyTooLarge extends ClientError {
  override readonly code: string = "AIOTS_HTTP_ERR_BODY_TOO_LARGE";
  /** The cap, in bytes. */
  readonly limit: number;
  /** The declared `content-length`, or the bytes received when the cap was crossed. */
  readonly size: number;
  constructor(limit: number, size: number, declared: boolean, request: RequestInfo) {
    super(
      declared
        ? `response body of ${size} bytes (content-length) exceeds maxBodySize ${limit} for ${request.url}`
        : `response body exceeded maxBodySize ${limit} bytes (${size} received) for ${request.url}`,
      { request },
    );
    this.limit = limit;
    this.size = size;
  }
}
defineBrand(BodyTooLarge, "AIOTS_HTTP_ERR_BODY_TOO_LARGE");

/** A URL that is not an absolute http: or https: URL (after applying the base URL). */
export class InvalidUrl extends ClientError {
  override readonly code: string = "AIOTS_HTTP_ERR_INVALID_URL";
  /** The URL as given. */
  readonly url: string;
  constructor(url: string, reason: string) {
    super(`invalid URL ${JSON.stringify(url)}: ${reason}`);
    this.url = url;
  }
}
defineBrand(InvalidUrl, "AIOTS_HTTP_ERR_INVALID_URL");

/** The connection could not be made: refused, host not found, unreachable. Retried. */
export class ConnectError extends ClientError {
  override readonly code: string = "AIOTS_HTTP_ERR_CONNECT";
}
defineBrand(ConnectError, "AIOTS_HTTP_ERR_CONNECT");

/** The connection was not made within the connect timeout. Retried. */
export class ConnectTimeout extends ConnectError {
  override readonly code: string = "AIOTS_HTTP_ERR_CONNECT_TIMEOUT";
}
defineBrand(ConnectTimeout, "AIOTS_HTTP_ERR_CONNECT_TIMEOUT");

/**
 * The connection broke during the exchange: reset by the peer, or closed before the response
 * was complete. Retried before the response headers arrived; after that it ends the body.
 */
export class ServerDisconnected extends ClientError {
  override readonly code: string = "AIOTS_HTTP_ERR_DISCONNECTED";
}
defineBrand(ServerDisconnected, "AIOTS_HTTP_ERR_DISCONNECTED");

/**
 * The session's or the request's `timeout.total` passed: the request (retries, redirects and
 * the body read included) was cancelled. An aiots `TimeoutError`, whose `cause` is the
 * `CancelledError` that stopped the work.
 */
export class RequestTimeout extends TimeoutError {
  override readonly code: string = "AIOTS_HTTP_ERR_REQUEST_TIMEOUT";
  readonly request: RequestInfo | undefined;
  constructor(message: string, options: ErrorOptions & { request?: RequestInfo }) {
    super(message, options);
    this.request = options.request;
  }
}
defineBrand(RequestTimeout, "AIOTS_HTTP_ERR_REQUEST_TIMEOUT");

/**
 * `timeout.read` passed: no response headers within that time after the request was sent, or no
 * body bytes for that long. An aiots `TimeoutError`. Retried while waiting for the headers.
 */
export class ReadTimeout extends TimeoutError {
  override readonly code: string = "AIOTS_HTTP_ERR_READ_TIMEOUT";
  readonly request: RequestInfo | undefined;
  constructor(message: string, options: ErrorOptions & { request?: RequestInfo }) {
    super(message, options);
    this.request = options.request;
  }
}
defineBrand(ReadTimeout, "AIOTS_HTTP_ERR_READ_TIMEOUT");
