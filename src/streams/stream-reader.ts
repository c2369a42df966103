/**
 * StreamReader: buffered reads from a connection or a pipe (asyncio.StreamReader).
 *
 * Same buffer rules as asyncio: `limit` caps a line for `readline`/`readuntil`, and reading from
 * the transport pauses while more than `2 * limit` bytes are buffered and resumes once a read
 * brings it down to `limit`. Unlike asyncio, a read that is cancelled aborts the connection by
 * default (`abortOnCancel`), so that a timeout never leaves a half-read socket open.
 *
 * @module
 */
import {
  awaitFuture,
  type Future,
  type NativeWaiter,
  settleNative,
  WaitFuture,
} from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import { IncompleteReadError, isCancelled, LimitOverrunError, RuntimeError } from "../errors.ts";
import { checkInteger, checkOptions, describe, rangeError, typeError } from "../validate.ts";
import { asTask, bindLoop, parkNative } from "../waiting.ts";
import { ByteBuffer } from "./byte-buffer.ts";

/** The default `limit`: 64 KiB, as asyncio. */
export const DEFAULT_LIMIT = 65_536;

/** Bytes to write or to look for: a `Uint8Array` (a `Buffer` is one), or a string sent as UTF-8. */
export type BytesLike = Uint8Array | string;

/** @internal What a StreamReader needs from the transport that feeds it. */
export interface ReadTransport {
  pauseReading(): void;
  resumeReading(): void;
  /** A task waiting for data was cancelled (the transport may abort the connection). */
  readCancelled(): void;
}

/** Options of `new StreamReader()`. */
export interface StreamReaderOptions {
  /** The line limit and half the buffer limit, in bytes (default 64 KiB). */
  limit?: number | undefined;
}

/** What `StreamReader.statistics()` returns. */
export interface StreamReaderStatistics {
  /** Bytes received and not read yet. */
  readonly bufferedBytes: number;
  /** The reader's `limit`. */
  readonly limit: number;
  /** Whether the end of the stream was fed. */
  readonly eof: boolean;
  /** Whether reading from the transport is paused (the buffer is over `2 * limit`). */
  readonly paused: boolean;
  /** Whether a task is blocked waiting for data. */
  readonly taskWaiting: boolean;
}

const NEWLINE: Buffer = Buffer.from("\n");

/** @internal `data` as bytes, or a TypeError naming `where` and `name`. */
export function toBytes(where: string, name: string, data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return Buffer.from(data);
  throw typeError(where, name, "a Uint8Array or a string", data);
}

/** @internal Validate a `limit` option (an integer >= 1). */
export function checkLimit(where: string, limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  checkInteger(where, "limit", limit, 1);
  return limit;
}

function toSeparators(separator: unknown): Uint8Array[] {
  const where = "reader.readuntil()";
  const list = Array.isArray(separator) ? (separator as unknown[]) : [separator];
  if (list.length === 0) {
    throw rangeError(where, "separator", "a non-empty list of separators", separator);
  }
  const seps = list.map((s) => toBytes(where, "separator", s));
  for (const sep of seps) {
    if (sep.length === 0) {
      throw rangeError(where, "separator", "at least one byte long", separator);
    }
  }
  // The shortest first: of two matches ending at the same place, the shorter wins (asyncio).
  return seps.sort((a, b) => a.length - b.length);
}

/**
 * A buffer of bytes received from a transport, read with `read`, `readline`, `readexactly` and
 * `readuntil`, or line by line with `for await`. Mirrors `asyncio.StreamReader`.
 *
 * `openConnection`, `startServer` and `createSubprocessExec` create readers; a reader made with
 * `new StreamReader()` is fed by hand with `feedData`/`feedEof` (as asyncio's tests do).
 *
 * - Only one task may wait for data at a time; a second one gets `RuntimeError`.
 * - Reads return `Buffer`s (a `Uint8Array`) that may share memory with the data received: copy
 *   a small piece you keep for long (`Buffer.from(piece)`) so it does not pin a larger chunk.
 * - Every wait is a cancellation point. A cancelled read consumes nothing; on a socket opened
 *   with the default `abortOnCancel: true` it also aborts the connection.
 *
 * @example
 * const [reader, writer] = await openConnection("127.0.0.1", 8888);
 * writer.write("GET / HTTP/1.0\r\n\r\n");
 * const status = await reader.readline();
 * for await (const line of reader) console.log(line.toString().trimEnd());
 */
export class StreamReader implements AsyncIterable<Buffer> {
  readonly #limit: number;
  readonly #buffer = new ByteBuffer();
  #eof = false;
  #exception: unknown = undefined;
  #hasException = false;
  #waiter: Future<void> | undefined = undefined;
  /** The waiter future of a read that was delivered, reused by the next wait (see `_reuse`). */
  #spare: WaitFuture<void> | undefined = undefined;
  #transport: ReadTransport | undefined = undefined;
  #paused = false;
  #loop: Loop | undefined = undefined;

  /**
   * A reader with no transport, fed with `feedData`/`feedEof`.
   *
   * @throws {RangeError} if `limit` is not an integer >= 1.
   */
  constructor(options?: StreamReaderOptions) {
    checkOptions("new StreamReader()", options);
    this.#limit = checkLimit("new StreamReader()", options?.limit);
  }

  /** The line limit (bytes); reading from the transport pauses above twice this much. */
  get limit(): number {
    return this.#limit;
  }

  /** @internal Attach the transport that feeds this reader, on `loop`. */
  _attach(transport: ReadTransport, loop: Loop): void {
    this.#transport = transport;
    this.#loop = loop;
  }

  /** The error set by `setException` (or by the transport failing), else `undefined`. */
  exception(): unknown {
    return this.#exception;
  }

  /** Make the waiting read, and every later one, throw `error`. */
  setException(error: unknown): void {
    this.#exception = error;
    this.#hasException = true;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      if (!waiter.done()) waiter._reject(error);
    }
  }

  /**
   * Append bytes to the buffer and wake the waiting read. Empty data does nothing.
   *
   * @throws {RuntimeError} after `feedEof()`.
   */
  feedData(data: BytesLike): void {
    const bytes = toBytes("reader.feedData()", "data", data);
    this.#feed(bytes, typeof data === "string");
  }

  /** @internal A chunk from the transport, kept without a copy. */
  _feedOwned(chunk: Buffer): void {
    this.#feed(chunk, true);
  }

  #feed(bytes: Uint8Array, adopt: boolean): void {
    if (this.#eof) throw new RuntimeError("feedData() after feedEof()");
    if (bytes.length === 0) return;
    this.#buffer.push(bytes, adopt);
    this.#wakeUp();
    const transport = this.#transport;
    if (transport !== undefined && !this.#paused && this.#buffer.length > 2 * this.#limit) {
      this.#paused = true;
      transport.pauseReading();
    }
  }

  /** Mark the end of the stream: reads return what is buffered, then empty data. */
  feedEof(): void {
    this.#eof = true;
    this.#wakeUp();
  }

  /** True once the end of the stream was fed and the buffer is empty. */
  atEof(): boolean {
    return this.#eof && this.#buffer.length === 0;
  }

  /**
   * Read up to `n` bytes: as soon as at least one is available (`n > 0`), or everything until
   * the end of the stream (`n < 0`, the default). Returns empty data at the end of the stream,
   * and for `n == 0`.
   *
   * @throws {CancelledError} if cancelled while waiting (nothing is consumed).
   * @throws the reader's exception, if one is set.
   */
  read(n = -1): Promise<Buffer> {
    if (typeof n !== "number" || !Number.isInteger(n)) {
      return Promise.reject(typeError("reader.read()", "n", "an integer", n));
    }
    if (this.#hasException) return Promise.reject(this.#exception as Error);
    if (n === 0) return Promise.resolve(Buffer.alloc(0));
    if (n < 0) return this.#readAll();
    if (this.#buffer.length > 0 || this.#eof) return Promise.resolve(this.#take(n));
    return this.#park("read", n);
  }

  /** read(-1): in limit-sized blocks, as asyncio (all at once would deadlock when paused). */
  async #readAll(): Promise<Buffer> {
    const blocks: Buffer[] = [];
    for (;;) {
      const block = await this.read(this.#limit);
      if (block.length === 0) break;
      blocks.push(block);
    }
    return blocks.length === 1 ? (blocks[0] as Buffer) : Buffer.concat(blocks);
  }

  /** The rest of a waiting read(n) or readexactly(n), run when its task is woken (see waiting.ts). */
  static #readWoken(this: void, w: NativeWaiter, failure: unknown): void {
    const waiter = w.future as WaitFuture<void>;
    const reader = waiter._owner as StreamReader;
    const n = w.value as number;
    const exactly = waiter._op === "readexactly";
    reader.#spare = waiter;
    if (failure !== undefined) {
      reader.#waitFailed(failure);
      settleNative(w, false, failure);
      return;
    }
    const buffered = reader.#buffer.length;
    if (exactly ? buffered >= n : buffered > 0 || reader.#eof) {
      settleNative(w, true, reader.#take(n));
      return;
    }
    // Not enough yet, the end of the stream, or an error: start over, as the task.
    settleNative(
      w,
      true,
      asTask(w.task, () => (exactly ? reader.readexactly(n) : reader.read(n))),
    );
  }

  #take(n: number): Buffer {
    const data = this.#buffer.take(n);
    this.#maybeResume();
    return data;
  }

  /**
   * Read one line, up to and including `\n`. At the end of the stream, returns the partial last
   * line, or empty data.
   *
   * @throws {RangeError} if the line is longer than `limit` (asyncio's `ValueError`; its `cause`
   *   is the `LimitOverrunError`). The line is consumed if its `\n` was seen, else the buffer is
   *   cleared.
   */
  async readline(): Promise<Buffer> {
    try {
      return await this.#readuntil([NEWLINE], "readline");
    } catch (error) {
      if (error instanceof IncompleteReadError) return error.partial as Buffer;
      if (error instanceof LimitOverrunError) {
        if (this.#buffer.startsWith(NEWLINE, error.consumed)) {
          this.#buffer.skip(error.consumed + NEWLINE.length);
        } else {
          this.#buffer.clear();
        }
        this.#maybeResume();
        throw new RangeError(error.message, { cause: error });
      }
      throw error;
    }
  }

  /**
   * Read until `separator` (a byte sequence, or a list of them: the match that ends first wins),
   * and return the data including it.
   *
   * @throws {IncompleteReadError} if the stream ends first; `partial` holds what was read (the
   *   buffer is then empty).
   * @throws {LimitOverrunError} if no separator appears within `limit` bytes; the data stays in
   *   the buffer, `consumed` says how much of it can be skipped.
   * @throws {RangeError} for an empty separator or an empty list.
   */
  readuntil(separator: BytesLike | readonly BytesLike[] = NEWLINE): Promise<Buffer> {
    try {
      return this.#readuntil(toSeparators(separator), "readuntil");
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  async #readuntil(separators: Uint8Array[], fn: string): Promise<Buffer> {
    if (this.#hasException) throw this.#exception;
    const minLength = (separators[0] as Uint8Array).length;
    const maxLength = (separators[separators.length - 1] as Uint8Array).length;
    const buffer = this.#buffer;
    // Bytes from the start of the buffer known to hold no complete separator.
    let offset = 0;
    let matchStart = -1;
    let matchEnd = -1;
    for (;;) {
      const length = buffer.length;
      if (length - offset >= minLength) {
        for (const sep of separators) {
          const i = buffer.indexOf(sep, offset);
          if (i !== -1 && (matchEnd === -1 || i + sep.length < matchEnd)) {
            matchStart = i;
            matchEnd = i + sep.length;
          }
        }
        if (matchEnd !== -1) break;
        // A separator may have started in the last maxLength - 1 bytes: search them again.
        offset = Math.max(0, length + 1 - maxLength);
        if (offset > this.#limit) {
          throw new LimitOverrunError("Separator is not found, and chunk exceed the limit", offset);
        }
      }
      // A separator completed by the last chunk counts even after the end of the stream.
      if (this.#eof) throw new IncompleteReadError(buffer.takeAll(), null);
      try {
        await awaitFuture(this.#waitForData(fn));
      } catch (error) {
        this.#waitFailed(error);
        throw error;
      }
    }
    if (matchStart > this.#limit) {
      throw new LimitOverrunError("Separator is found, but chunk is longer than limit", matchStart);
    }
    return this.#take(matchEnd);
  }

  /**
   * Read exactly `n` bytes (not capped by `limit`).
   *
   * @throws {IncompleteReadError} if the stream ends first; `partial` holds what was read (the
   *   buffer is then empty) and `expected` is `n`.
   * @throws {RangeError} if `n` is not an integer >= 0.
   */
  readexactly(n: number): Promise<Buffer> {
    try {
      checkInteger("reader.readexactly()", "n", n, 0);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.#hasException) return Promise.reject(this.#exception as Error);
    if (n === 0) return Promise.resolve(Buffer.alloc(0));
    const buffer = this.#buffer;
    if (buffer.length >= n) return Promise.resolve(this.#take(n));
    if (this.#eof) return Promise.reject(new IncompleteReadError(buffer.takeAll(), n));
    return this.#park("readexactly", n);
  }

  /** Iterate over lines (each ending with `\n`, except maybe the last) until the end. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** A snapshot for debugging and tests: the buffer's size, flow control, the waiting task. */
  statistics(): StreamReaderStatistics {
    return {
      bufferedBytes: this.#buffer.length,
      limit: this.#limit,
      eof: this.#eof,
      paused: this.#paused,
      taskWaiting: this.#isWaiting(),
    };
  }

  /** `<StreamReader 12 bytes eof limit=65536>`, as asyncio's repr. */
  toString(): string {
    const info = ["StreamReader"];
    if (this.#buffer.length > 0) info.push(`${this.#buffer.length} bytes`);
    if (this.#eof) info.push("eof");
    if (this.#limit !== DEFAULT_LIMIT) info.push(`limit=${this.#limit}`);
    if (this.#isWaiting()) info.push("waiter");
    if (this.#hasException) info.push(`exception=${describe(this.#exception)}`);
    if (this.#paused) info.push("paused");
    return `<${info.join(" ")}>`;
  }

  // ---------------------------------------------------------------- internals

  /** Wake the task waiting for data, if any. */
  #wakeUp(): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      if (!waiter.done()) waiter._resolveEvent(undefined);
    }
  }

  /** Resume reading from the transport once the buffer is down to `limit`. */
  #maybeResume(): void {
    if (this.#paused && this.#buffer.length <= this.#limit) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
  }

  #isWaiting(): boolean {
    return this.#waiter !== undefined && !this.#waiter.done();
  }

  /** Wait for data as the calling task; `#readWoken` finishes the read of `n` bytes. */
  #park(fn: "read" | "readexactly", n: number): Promise<Buffer> {
    let waiter: Future<void>;
    try {
      waiter = this.#waitForData(fn);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return parkNative(waiter, StreamReader.#readWoken, n);
  }

  /**
   * A future that resolves when data, the end of the stream or an error is fed; the caller
   * awaits it (directly: this is the hot path of every read), and calls `#waitFailed` if the
   * await throws. Waking clears the slot; a cancelled waiter is cleared by `#waitFailed`, or
   * ignored as done until then.
   */
  #waitForData(fn: string): Future<void> {
    // One waiter only: with two, which task would get the next data?
    if (this.#isWaiting()) {
      throw new RuntimeError(
        `${fn}() called while another task is already waiting for incoming data`,
      );
    }
    // Waiting while paused would wait forever (readexactly(n) with n > 2 * limit, say).
    if (this.#paused) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
    const loop = bindLoop(this.#loop, this);
    this.#loop = loop;
    let waiter = this.#spare;
    if (waiter === undefined) {
      waiter = new WaitFuture<void>(loop, this, fn);
    } else {
      this.#spare = undefined;
      waiter._reuse(fn);
    }
    this.#waiter = waiter;
    return waiter;
  }

  /** The wait threw: forget a cancelled waiter, and tell the transport of a cancellation. */
  #waitFailed(error: unknown): void {
    if (this.#waiter?.done() === true) this.#waiter = undefined;
    if (isCancelled(error)) this.#transport?.readCancelled();
  }
}
