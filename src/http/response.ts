/**
 * `ClientResponse`: the status and headers of a response, and its body, read once as bytes,
 * text, JSON or a stream of chunks (aiohttp's `ClientResponse`).
 *
 * Reading the body is bounded like the request: by the total deadline, by the read timeout
 * between chunks (both with an aiots `timeout` scope, so they cancel the read), and by
 * `maxBodySize`. Cancelling the reading task aborts the body.
 *
 * @module
 */
import { TextDecoder } from "node:util";
import {
  currentTask,
  getRunningLoop,
  isCancelled,
  type Timeout,
  TimeoutError,
  timeoutAt,
} from "../index.ts";
import type { Deadlines } from "./deadlines.ts";
import { ClientError, HttpError, ReadTimeout, type RequestInfo, RequestTimeout } from "./errors.ts";
import type { Exchange } from "./exchange.ts";
import { toClientError } from "./undici-errors.ts";

/** Response headers: lower-case names; a repeated header (`set-cookie`) is an array. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** @internal What the session hands to a new response. */
export interface ResponseInit {
  method: string;
  url: string;
  redirects: readonly string[];
  status: number;
  statusText: string;
  headers: ResponseHeaders;
  /** The exchange that delivers the body (with the size cap already set on it). */
  exchange: Exchange;
  /** The total deadline on the loop clock, or null. */
  deadline: number | null;
  /** The session's keeper of total deadlines. */
  deadlines: Deadlines;
  /** The longest wait for the next body chunk, in ms, or null. */
  readTimeout: number | null;
  /** Called once when the body is finished with (read, failed or released). */
  onRelease: (() => void) | undefined;
}

// The body's state.
const UNREAD = 0;
const READING = 1;
const DONE = 2;

/** Charset of a content type, for `text()`; utf-8 unless TextDecoder knows the label given. */
function decoderFor(contentType: string | undefined): TextDecoder {
  const charset = contentType === undefined ? undefined : /charset="?([^";\s]+)/i.exec(contentType);
  if (charset?.[1] !== undefined) {
    try {
      return new TextDecoder(charset[1]);
    } catch {
      // an unknown label: fall back to utf-8, as browsers do
    }
  }
  return new TextDecoder();
}

/**
 * A response to a `ClientSession` request. Its body can be read once: `bytes()`, `text()`,
 * `json()`, or `for await (const chunk of response)`. A body that is not read to its end must be
 * released (`release()`, or `await using`), or its connection stays busy.
 *
 * @example
 * await using response = await session.get("/items");
 * response.raiseForStatus();
 * const items = await response.json();
 */
export class ClientResponse implements AsyncIterable<Uint8Array>, AsyncDisposable {
  /** The request method. */
  readonly method: string;
  /** The final URL, after redirects. */
  readonly url: string;
  /** The URLs that redirected to `url`, in order (empty when there was no redirect). */
  readonly redirects: readonly string[];
  /** The HTTP status code. */
  readonly status: number;
  /** The reason phrase ("OK", "Not Found"), or "" when the server sent none. */
  readonly statusText: string;
  /** The response headers, with lower-case names. */
  readonly headers: ResponseHeaders;
  readonly #exchange: Exchange;
  readonly #deadline: number | null;
  readonly #readTimeout: number | null;
  readonly #deadlines: Deadlines;
  #onRelease: (() => void) | undefined;
  #state = UNREAD;

  /** @internal Responses come from `ClientSession`. */
  constructor(init: ResponseInit) {
    this.method = init.method;
    this.url = init.url;
    this.redirects = init.redirects;
    this.status = init.status;
    this.statusText = init.statusText;
    this.headers = init.headers;
    this.#exchange = init.exchange;
    this.#deadline = init.deadline;
    this.#readTimeout = init.readTimeout;
    this.#deadlines = init.deadlines;
    this.#onRelease = init.onRelease;
  }

  /** True for a status from 200 to 299. */
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  /** The `content-type` header, or undefined. */
  get contentType(): string | undefined {
    const value = this.headers["content-type"];
    return Array.isArray(value) ? value[0] : value;
  }

  /** The declared `content-length`, or undefined when absent or not a number. */
  get contentLength(): number | undefined {
    const value = this.headers["content-length"];
    const n = Number(Array.isArray(value) ? value[0] : value);
    return value === undefined || !Number.isSafeInteger(n) || n < 0 ? undefined : n;
  }

  /** True once the body was read, is being read, or was released. */
  get bodyUsed(): boolean {
    return this.#state !== UNREAD;
  }

  /** What error messages say about this request. */
  get #info(): RequestInfo {
    return { method: this.method, url: this.url };
  }

  /**
   * Throw `HttpError` (and release the body) if the status is 400 or more. Mirrors
   * `aiohttp.ClientResponse.raise_for_status()`.
   */
  raiseForStatus(): void {
    if (this.status < 400) return;
    this.release();
    throw new HttpError(this.status, this.statusText, this.#info, this.headers);
  }

  /** The whole body as bytes. */
  bytes(): Promise<Uint8Array> {
    const exchange = this.#exchange;
    if (this.#state === UNREAD && exchange.ended && exchange.error === undefined) {
      // The whole body is here already (a small body comes with the head): nothing to wait
      // for, so no timer and no link to the task.
      this.#state = READING;
      const chunks = exchange.take();
      this.#finish();
      return Promise.resolve(concat(chunks));
    }
    return this.#bytesSlow();
  }

  async #bytesSlow(): Promise<Uint8Array> {
    const chunks: Buffer[] = [];
    await this.#readAll((chunk) => chunks.push(chunk));
    return concat(chunks);
  }

  /** The whole body decoded as text (the charset of `content-type`, else utf-8). */
  async text(): Promise<string> {
    return decoderFor(this.contentType).decode(await this.bytes());
  }

  /** The whole body parsed as JSON. @throws {SyntaxError} if it is not JSON. */
  async json<T = unknown>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  /**
   * The body as it arrives, chunk by chunk. Leaving the loop early (break, throw, cancellation)
   * aborts the rest of the body.
   */
  async *chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    this.#claim();
    const exchange = this.#exchange;
    const bounded = this.#deadline !== null || this.#readTimeout !== null;
    const unlink = this.#linkReader();
    try {
      for (;;) {
        const chunk =
          bounded && !exchange.ended
            ? await this.#bounded(() => exchange.next())
            : await exchange.next();
        if (chunk === null) return;
        yield chunk;
      }
    } catch (error) {
      throw this.#convert(error, undefined);
    } finally {
      unlink();
      this.#finish();
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.chunks();
  }

  /**
   * Let go of the body: an unread or partly read body is aborted (its connection is closed),
   * and the session's connection slot is freed. Idempotent. Mirrors `ClientResponse.release()`.
   */
  release(): void {
    if (this.#state === DONE) return;
    this.#finish();
  }

  /** `await using response = await session.get(url)` releases it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }

  toString(): string {
    return `<ClientResponse ${this.status} ${this.method} ${this.url}>`;
  }

  // ---------------------------------------------------------------- internals

  #claim(): void {
    if (this.#state !== UNREAD) {
      throw new ClientError(`the body of ${this.method} ${this.url} was already read or released`, {
        request: this.#info,
      });
    }
    this.#state = READING;
  }

  #finish(): void {
    if (this.#state === DONE) return;
    this.#state = DONE;
    if (!this.#exchange.ended) {
      // Unread or partly read: abort it, which closes its connection (the pool opens another).
      this.#exchange.abort(new ClientError("the response was released before its end"));
    }
    const onRelease = this.#onRelease;
    this.#onRelease = undefined;
    onRelease?.();
  }

  /** When the next chunk is due: the read timeout from now, within the total deadline. */
  #nextDue(): number {
    const now = getRunningLoop().time();
    const read = this.#readTimeout === null ? Number.POSITIVE_INFINITY : now + this.#readTimeout;
    return this.#deadline === null ? read : Math.min(this.#deadline, read);
  }

  /**
   * Run `fn` under one timeout scope due at `#nextDue()`. With no read timeout that is the total
   * deadline, which the session's `Deadlines` keeps (no timer of its own).
   */
  async #bounded<T>(fn: (scope: Timeout) => Promise<T>): Promise<T> {
    let scope: Timeout | undefined;
    try {
      if (this.#readTimeout === null && this.#deadline !== null) {
        const deadline = this.#deadline;
        return await timeoutAt(null, async (s) => {
          scope = s;
          const entry = this.#deadlines.add(s, deadline);
          try {
            return await fn(s);
          } finally {
            this.#deadlines.remove(entry);
          }
        });
      }
      return await timeoutAt(this.#nextDue(), (s) => {
        scope = s;
        return fn(s);
      });
    } catch (error) {
      throw this.#convert(error, scope);
    }
  }

  /**
   * While the body is read, cancelling the reading task aborts it (the request's own link to
   * the sending task ended when the headers arrived). Returns the unlink function.
   */
  #linkReader(): () => void {
    const signal = currentTask()?.signal;
    if (signal === undefined) return noop;
    const exchange = this.#exchange;
    const onAbort = (): void => exchange.abort(signal.reason as Error);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    return () => signal.removeEventListener("abort", onAbort);
  }

  async #readAll(sink: (chunk: Buffer) => void): Promise<void> {
    this.#claim();
    const exchange = this.#exchange;
    const unlink = exchange.ended ? noop : this.#linkReader();
    try {
      if ((this.#deadline === null && this.#readTimeout === null) || exchange.ended) {
        // Nothing to wait for from the network (small bodies come with the head): no timer.
        await exchange.flow(sink);
      } else if (this.#readTimeout === null) {
        await this.#bounded(() => exchange.flow(sink));
      } else {
        // Each chunk moves the deadline on by the read timeout (never past the total one).
        await this.#bounded((scope) =>
          exchange.flow((chunk) => {
            sink(chunk);
            scope.reschedule(this.#nextDue());
          }),
        );
      }
    } catch (error) {
      throw this.#convert(error, undefined);
    } finally {
      unlink();
      this.#finish();
    }
  }

  /** Map what a body read threw to the client's errors; cancellations pass through. */
  #convert(error: unknown, scope: Timeout | undefined): unknown {
    if (isCancelled(error)) return error;
    if (error instanceof ClientError || error instanceof ReadTimeout) return error;
    if (error instanceof RequestTimeout) return error;
    if (scope !== undefined && error instanceof TimeoutError) {
      const total = this.#deadline !== null && scope.when() === this.#deadline;
      const options = { cause: error.cause, request: this.#info };
      return total
        ? new RequestTimeout(`${this.method} ${this.url}: total timeout reached`, options)
        : new ReadTimeout(
            `${this.method} ${this.url}: no body data for ${this.#readTimeout} ms`,
            options,
          );
    }
    return toClientError(error, this.#info, true);
  }
}

function noop(): void {}

function concat(chunks: Buffer[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Buffer;
  return Buffer.concat(chunks);
}
