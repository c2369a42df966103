/**
 * `ClientSession`: an HTTP client on undici for aiots programs (aiohttp's `ClientSession`).
 *
 * One undici `Pool` per origin holds the keep-alive connections. On top of it: a base URL and
 * default headers, a cap on concurrent requests, timeouts that are aiots cancellations, redirects
 * followed by hand (so the chain is recorded and a loop is caught), retries with backoff, a
 * per-host rate limit, and a body size cap. Cancelling the task that sends a request aborts it.
 *
 * @module
 */
import { type Dispatcher, Pool } from "undici";
import {
  currentTask,
  getRunningLoop,
  isCancelled,
  Semaphore,
  sleep,
  type Timeout,
  TimeoutError,
  timeout,
  timeoutAt,
} from "../index.ts";
import { Deadlines } from "./deadlines.ts";
import {
  BodyTooLarge,
  ClientError,
  ConnectError,
  HttpError,
  InvalidUrl,
  ReadTimeout,
  type RequestInfo,
  RequestTimeout,
  ServerDisconnected,
  TooManyRedirects,
} from "./errors.ts";
import { Exchange } from "./exchange.ts";
import { type ClientSessionOptions, check, checkInt, type RequestOptions } from "./options.ts";
import { RateLimiter } from "./rate-limit.ts";
import { ClientResponse } from "./response.ts";
import { backoffDelay, DEFAULT_RETRY_ON, IDEMPOTENT_METHODS, parseRetryAfter } from "./retry.ts";
import { toClientError } from "./undici-errors.ts";

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Bodies of redirects and retried responses up to this size are drained to reuse the connection. */
const DRAIN_LIMIT = 64 * 1024;
const DRAIN_MS = 1000;

const USER_AGENT = "aiots-http/0.1";

/** Parsed request URLs kept per session (the cache is emptied when full). */
const URL_CACHE_SIZE = 256;

type Headers = Record<string, string>;

/** A request URL with the parts a request needs, computed once (URL getters build strings). */
interface Target {
  href: string;
  origin: string;
  host: string;
  /** Path and query, as sent in the request line. */
  path: string;
}

function targetOf(url: URL): Target {
  return { href: url.href, origin: url.origin, host: url.host, path: url.pathname + url.search };
}

function lowerKeys(headers: Readonly<Record<string, string>> | undefined): Headers {
  const out: Headers = {};
  if (headers !== undefined) for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function noop(): void {}

/** Wait for `promise` with the current task's cancellation linked to aborting `exchange`. */
async function linked<T>(exchange: Exchange, promise: Promise<T>): Promise<T> {
  const signal = currentTask()?.signal;
  if (signal === undefined) return promise;
  const onAbort = (): void => exchange.abort(signal.reason as Error);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await promise;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Throw away a response body we will not hand out (a redirect, a retried status): drain a small
 * one so its connection can be reused (for at most DRAIN_MS), abort anything bigger or of unknown
 * size.
 */
async function discard(exchange: Exchange): Promise<void> {
  if (exchange.ended) return;
  const length = Number(firstHeader(exchange.headers["content-length"]));
  if (Number.isSafeInteger(length) && length <= DRAIN_LIMIT) {
    try {
      await timeout(DRAIN_MS, () => linked(exchange, exchange.flow(noop)));
      return;
    } catch (error) {
      if (isCancelled(error)) throw error;
    }
  }
  exchange.abort(new ClientError("response discarded"));
}

/** What one attempt (with its redirects) came back with. */
interface Outcome {
  exchange: Exchange;
  method: string;
  url: string;
  redirects: string[];
}

/** A retryable failure: connection errors and read timeouts before the response. */
function retryable(error: unknown): boolean {
  return (
    error instanceof ConnectError ||
    error instanceof ServerDisconnected ||
    error instanceof ReadTimeout
  );
}

/**
 * An HTTP client session: connection pools, defaults and policies shared by its requests.
 * Use it inside `run()` and close it when done (`await session.close()`, or `await using`).
 * Mirrors `aiohttp.ClientSession`.
 *
 * - Cancelling the task that awaits a request or reads a body aborts it, and the connection is
 *   closed (the pool opens a new one for the next request).
 * - `timeout.total` and `timeout.read` are aiots timeouts: at the limit the work is cancelled,
 *   and `RequestTimeout` or `ReadTimeout` (both aiots `TimeoutError`s) is thrown.
 * - Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) are retried after connection
 *   errors and `retryOn` statuses, with exponential backoff and full jitter; `Retry-After` is
 *   honoured (seconds or an HTTP-date, capped at `backoff.maxRetryAfter`).
 *
 * @example
 * await run(async () => {
 *   await using session = new ClientSession({ baseUrl: "http://127.0.0.1:8080", timeout: { total: 5000 } });
 *   await using response = await session.get("/items", { query: { page: 2 } });
 *   response.raiseForStatus();
 *   console.log(await response.json());
 * });
 */
export class ClientSession implements AsyncDisposable {
  readonly #baseUrl: URL | undefined;
  readonly #headers: Headers;
  readonly #permits: Semaphore | undefined;
  readonly #limitPerHost: number | null;
  readonly #total: number | null;
  readonly #connect: number | null;
  readonly #read: number | null;
  readonly #raiseForStatus: boolean;
  readonly #maxBodySize: number | null;
  readonly #maxRedirects: number;
  readonly #retries: number;
  readonly #backoffBase: number;
  readonly #backoffMax: number;
  readonly #maxRetryAfter: number;
  readonly #retryOn: ReadonlySet<number>;
  readonly #rateLimit: number | null;
  readonly #rateBurst: number;
  readonly #pools = new Map<string, Pool>();
  readonly #limiters = new Map<string, RateLimiter>();
  readonly #deadlines = new Deadlines();
  readonly #urls = new Map<string, Target>();
  #closed = false;

  constructor(options: ClientSessionOptions = {}) {
    const where = "new ClientSession()";
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`${where}: "options" must be an object, got ${String(options)}`);
    }
    const t = options.timeout ?? {};
    checkInt(where, "limit", options.limit, 1, true);
    checkInt(where, "limitPerHost", options.limitPerHost, 1, true);
    check(where, "timeout.total", t.total, 0, true);
    check(where, "timeout.connect", t.connect, 0, true);
    check(where, "timeout.read", t.read, 0, true);
    checkInt(where, "maxBodySize", options.maxBodySize, 0, true);
    checkInt(where, "maxRedirects", options.maxRedirects, 0, false);
    checkInt(where, "retries", options.retries, 0, false);
    check(where, "backoff.base", options.backoff?.base, 0, false);
    check(where, "backoff.max", options.backoff?.max, 0, false);
    check(where, "backoff.maxRetryAfter", options.backoff?.maxRetryAfter, 0, false);
    check(where, "rateLimit", options.rateLimit, Number.MIN_VALUE, true);
    checkInt(where, "rateBurst", options.rateBurst, 1, false);
    if (options.baseUrl !== undefined) {
      this.#baseUrl = new URL(options.baseUrl);
      if (!/^https?:$/.test(this.#baseUrl.protocol)) {
        throw new InvalidUrl(String(options.baseUrl), "baseUrl must be an http: or https: URL");
      }
    }
    this.#headers = { "user-agent": USER_AGENT, ...lowerKeys(options.headers) };
    const limit = options.limit === undefined ? 100 : options.limit;
    this.#permits = limit === null ? undefined : new Semaphore(limit);
    this.#limitPerHost = options.limitPerHost ?? null;
    this.#total = t.total === undefined ? 300_000 : t.total;
    this.#connect = t.connect === undefined ? 30_000 : t.connect;
    this.#read = t.read ?? null;
    this.#raiseForStatus = options.raiseForStatus ?? false;
    this.#maxBodySize = options.maxBodySize ?? null;
    this.#maxRedirects = options.maxRedirects ?? 10;
    this.#retries = options.retries ?? 2;
    this.#backoffBase = options.backoff?.base ?? 100;
    this.#backoffMax = options.backoff?.max ?? 10_000;
    this.#maxRetryAfter = options.backoff?.maxRetryAfter ?? 30_000;
    this.#retryOn = new Set(options.retryOn ?? DEFAULT_RETRY_ON);
    this.#rateLimit = options.rateLimit ?? null;
    this.#rateBurst = options.rateBurst ?? 1;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  get(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("GET", url, options);
  }

  head(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("HEAD", url, options);
  }

  options(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("OPTIONS", url, options);
  }

  post(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("POST", url, options);
  }

  put(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("PUT", url, options);
  }

  patch(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("PATCH", url, options);
  }

  delete(url: string | URL, options?: RequestOptions): Promise<ClientResponse> {
    return this.request("DELETE", url, options);
  }

  /**
   * Send a request and return the response once its headers have arrived (after redirects and
   * retries). Read or release its body.
   *
   * @throws {RequestTimeout} the total timeout passed.
   * @throws {ReadTimeout} no response within the read timeout (after the retries).
   * @throws {ConnectError} could not connect (after the retries).
   * @throws {HttpError} a status >= 400 with `raiseForStatus`.
   * @throws {TooManyRedirects} more than `maxRedirects` redirects, or a redirect loop.
   * @throws {BodyTooLarge} a declared `content-length` over `maxBodySize`.
   * @throws {CancelledError} the task was cancelled; the request was aborted.
   */
  async request(
    method: string,
    url: string | URL,
    options: RequestOptions = {},
  ): Promise<ClientResponse> {
    if (this.#closed) throw new ClientError("the session is closed");
    method = method.toUpperCase();
    const target = this.#resolve(url, options.query);
    const total = options.timeout?.total === undefined ? this.#total : options.timeout.total;
    check("session.request()", "timeout.total", total, 0, true);
    const deadline = total === null ? null : getRunningLoop().time() + total;
    if (deadline === null) return this.#request(method, target, options, null);
    let scope: Timeout | undefined;
    try {
      return await timeoutAt(null, async (s) => {
        scope = s;
        const entry = this.#deadlines.add(s, deadline);
        try {
          return await this.#request(method, target, options, deadline);
        } finally {
          this.#deadlines.remove(entry);
        }
      });
    } catch (error) {
      if (scope?.expired() === true && error instanceof TimeoutError && !isOwn(error)) {
        throw new RequestTimeout(`${method} ${target.href}: total timeout of ${total} ms reached`, {
          cause: error.cause,
          request: { method, url: target.href },
        });
      }
      throw error;
    }
  }

  /**
   * Close every connection and refuse new requests. Requests still running fail. Idempotent.
   * Mirrors `ClientSession.close()`.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.destroy()));
  }

  /** `await using session = new ClientSession()` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  toString(): string {
    return `<ClientSession${this.#closed ? " closed" : ""} pools=${this.#pools.size}>`;
  }

  // ---------------------------------------------------------------- internals

  #resolve(url: string | URL, query: RequestOptions["query"]): Target {
    // Parsing a URL is a good part of a request's own cost: programs that call the same
    // endpoints over and over get it from a small cache.
    const cacheable = typeof url === "string" && query === undefined;
    if (cacheable) {
      const cached = this.#urls.get(url);
      if (cached !== undefined) return cached;
    }
    let parsed: URL;
    try {
      parsed = new URL(url, this.#baseUrl);
    } catch {
      throw new InvalidUrl(String(url), "not an absolute URL, and no baseUrl to resolve it");
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new InvalidUrl(String(url), `unsupported scheme ${parsed.protocol}`);
    }
    if (parsed.hash !== "") parsed.hash = "";
    if (query !== undefined) {
      for (const [k, v] of Object.entries(query)) parsed.searchParams.append(k, String(v));
    }
    const target = targetOf(parsed);
    if (cacheable) {
      if (this.#urls.size >= URL_CACHE_SIZE) this.#urls.clear();
      this.#urls.set(url, target);
    }
    return target;
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.#limitPerHost,
        connectTimeout: this.#connect ?? 0,
        // Ours are aiots timeouts (timeout.read / timeout.total); undici's would race them.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /** Everything inside the total deadline: the slot, the attempts, the retry waits. */
  async #request(
    method: string,
    target: Target,
    options: RequestOptions,
    deadline: number | null,
  ): Promise<ClientResponse> {
    const permits = this.#permits;
    if (permits !== undefined) await permits.acquire();
    let held = permits !== undefined;
    let handedOff = false;
    const release = (): void => {
      if (held) {
        held = false;
        permits?.release();
      }
    };
    try {
      // The session's headers object is shared, never mutated: copies are made to change it.
      let headers = this.#headers;
      if (options.headers !== undefined) headers = { ...headers, ...lowerKeys(options.headers) };
      let body: string | Uint8Array | undefined = options.body;
      if (options.json !== undefined) {
        body = JSON.stringify(options.json);
        if (headers["content-type"] === undefined) {
          headers = { ...headers, "content-type": "application/json" };
        }
      }
      const read = options.timeout?.read === undefined ? this.#read : options.timeout.read;
      const retries = options.retries ?? this.#retries;
      const maxRedirects = options.maxRedirects ?? this.#maxRedirects;
      const maxBodySize =
        options.maxBodySize === undefined ? this.#maxBodySize : options.maxBodySize;
      const idempotent = IDEMPOTENT_METHODS.has(method);
      const loop = getRunningLoop();
      for (let attempt = 0; ; attempt++) {
        const canRetry = idempotent && attempt < retries;
        let outcome: Outcome;
        try {
          outcome = await this.#follow(
            method,
            target,
            headers,
            body,
            read,
            maxRedirects,
            maxBodySize,
          );
        } catch (error) {
          if (isCancelled(error) || !canRetry || !retryable(error)) throw error;
          const delay = backoffDelay(attempt, this.#backoffBase, this.#backoffMax);
          if (deadline !== null && loop.time() + delay >= deadline) throw error;
          await sleep(delay);
          continue;
        }
        const { exchange } = outcome;
        if (canRetry && this.#retryOn.has(exchange.status)) {
          const asked = parseRetryAfter(exchange.headers["retry-after"]);
          const delay =
            asked === undefined
              ? backoffDelay(attempt, this.#backoffBase, this.#backoffMax)
              : Math.min(asked, this.#maxRetryAfter);
          if (deadline === null || loop.time() + delay < deadline) {
            await discard(exchange);
            await sleep(delay);
            continue;
          }
        }
        const info: RequestInfo = { method: outcome.method, url: outcome.url };
        const raise = options.raiseForStatus ?? this.#raiseForStatus;
        if (raise && exchange.status >= 400) {
          await discard(exchange);
          throw new HttpError(exchange.status, exchange.statusText, info, exchange.headers);
        }
        const declared = Number(firstHeader(exchange.headers["content-length"]));
        if (
          maxBodySize !== null &&
          outcome.method !== "HEAD" && // a HEAD response declares the size of a body it has not
          Number.isSafeInteger(declared) &&
          declared > maxBodySize
        ) {
          exchange.abort(new BodyTooLarge(maxBodySize, declared, true, info));
          throw new BodyTooLarge(maxBodySize, declared, true, info);
        }
        const response = new ClientResponse({
          method: outcome.method,
          url: outcome.url,
          redirects: outcome.redirects,
          status: exchange.status,
          statusText: exchange.statusText,
          headers: exchange.headers,
          exchange,
          deadline,
          deadlines: this.#deadlines,
          readTimeout: read,
          onRelease: release,
        });
        handedOff = true; // the response releases the slot when its body is done
        return response;
      }
    } finally {
      if (!handedOff) release();
    }
  }

  /** One attempt: send, and follow redirects by hand, recording the chain. */
  async #follow(
    method: string,
    target: Target,
    headers: Headers,
    body: string | Uint8Array | undefined,
    read: number | null,
    maxRedirects: number,
    maxBodySize: number | null,
  ): Promise<Outcome> {
    const redirects: string[] = [];
    let seen: Set<string> | undefined;
    let url = target;
    for (;;) {
      const exchange = await this.#send(method, url, headers, body, read, maxBodySize);
      const location = REDIRECTS.has(exchange.status)
        ? firstHeader(exchange.headers.location)
        : undefined;
      if (location === undefined || maxRedirects === 0) {
        return { exchange, method, url: url.href, redirects };
      }
      const info: RequestInfo = { method, url: url.href };
      let parsed: URL;
      try {
        parsed = new URL(location, url.href);
      } catch {
        exchange.abort(new ClientError("invalid Location"));
        throw new ClientError(
          `${method} ${url.href}: invalid Location ${JSON.stringify(location)}`,
          {
            request: info,
          },
        );
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
        exchange.abort(new ClientError("unsupported redirect"));
        throw new InvalidUrl(location, `redirect from ${url.href} to an unsupported scheme`);
      }
      parsed.hash = "";
      const next = targetOf(parsed);
      await discard(exchange);
      seen ??= new Set([`${method} ${url.href}`]);
      redirects.push(url.href);
      if (
        (exchange.status === 303 && method !== "HEAD") ||
        ((exchange.status === 301 || exchange.status === 302) && method === "POST")
      ) {
        // RFC 9110 §15.4: a 303 (and, by long practice, a 301/302 after POST) becomes a GET.
        method = "GET";
        body = undefined;
        headers = { ...headers };
        delete headers["content-type"];
        delete headers["content-length"];
      }
      if (next.origin !== url.origin && ("authorization" in headers || "cookie" in headers)) {
        // Credentials are for the origin they were given to.
        headers = { ...headers };
        delete headers.authorization;
        delete headers.cookie;
      }
      const key = `${method} ${next.href}`;
      if (seen.has(key)) {
        const chain = [...redirects, next.href];
        throw new TooManyRedirects(`redirect loop: ${chain.join(" -> ")}`, chain, true, {
          method,
          url: target.href,
        });
      }
      if (redirects.length > maxRedirects) {
        throw new TooManyRedirects(
          `more than ${maxRedirects} redirects, from ${target.href} to ${next.href}`,
          [...redirects, next.href],
          false,
          { method, url: target.href },
        );
      }
      seen.add(key);
      url = next;
    }
  }

  /** Send one request and wait for the response head, within the read timeout. */
  async #send(
    method: string,
    url: Target,
    headers: Headers,
    body: string | Uint8Array | undefined,
    read: number | null,
    maxBodySize: number | null,
  ): Promise<Exchange> {
    if (this.#closed) throw new ClientError("the session is closed");
    if (this.#rateLimit !== null) {
      let limiter = this.#limiters.get(url.host);
      if (limiter === undefined) {
        limiter = new RateLimiter(this.#rateLimit, this.#rateBurst);
        this.#limiters.set(url.host, limiter);
      }
      await limiter.acquire();
    }
    const info: RequestInfo = { method, url: url.href };
    const exchange = new Exchange(
      maxBodySize,
      (size) => new BodyTooLarge(maxBodySize ?? 0, size, false, info),
    );
    const request: Dispatcher.DispatchOptions = {
      path: url.path,
      method: method as Dispatcher.HttpMethod,
      headers,
      body: body ?? null,
    };
    try {
      this.#pool(url.origin).dispatch(request, exchange);
    } catch (error) {
      exchange.onResponseError(undefined as never, error as Error);
    }
    let scope: Timeout | undefined;
    // While waiting for the head, cancelling the task aborts the exchange.
    const signal = currentTask()?.signal;
    const onAbort = (): void => exchange.abort((signal as AbortSignal).reason as Error);
    if (signal?.aborted === true) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (read === null) await exchange.head();
      else {
        await timeout(read, (s) => {
          scope = s;
          return exchange.head();
        });
      }
      return exchange;
    } catch (error) {
      if (isCancelled(error)) throw error;
      if (scope?.expired() === true && error instanceof TimeoutError && !isOwn(error)) {
        throw new ReadTimeout(`${method} ${url.href}: no response within ${read} ms`, {
          cause: error.cause,
          request: info,
        });
      }
      if (error instanceof TimeoutError) throw error;
      throw toClientError(error, info, false);
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/** The client's own timeout errors, which pass through the outer scopes unchanged. */
function isOwn(error: unknown): boolean {
  return error instanceof ReadTimeout || error instanceof RequestTimeout;
}
