/**
 * The transport under a StreamReader/StreamWriter pair: a `node:net` socket (TCP, Unix, TLS, or
 * a child process's pipe) adapted to asyncio's transport/protocol contract (asyncio's
 * `_SelectorSocketTransport` plus `StreamReaderProtocol`).
 *
 * - Read flow control: the reader calls `pauseReading()` above `2 * limit` buffered bytes and
 *   `resumeReading()` at `limit`; a paused Node socket stops reading from the kernel once its
 *   own buffer is full, so memory stays bounded however fast the peer sends.
 * - Write flow control: `waitDrain()` waits while Node's write buffer is over its high-water
 *   mark (the kernel's buffer is full), and every waiting task is released together.
 * - `close()` flushes what was written, then closes the socket completely (not half-open);
 *   `abort()` closes at once and discards the buffer.
 * - Connection lost (Node's `close` event): the reader gets the end of the stream, or the
 *   error; drain and close waiters are released.
 *
 * @internal
 * @module
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Future } from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import { isCancelled, RuntimeError } from "../errors.ts";
import { type LoopResource, track, untrack } from "./loop-resources.ts";
import type { ReadTransport, StreamReader } from "./stream-reader.ts";

/** @internal How a transport behaves and what `getExtraInfo` reports. */
export interface TransportOptions {
  /** Abort the connection when a task waiting on it (read, drain, close) is cancelled. */
  readonly abortOnCancel: boolean;
  /** A child process's pipe rather than a socket (`getExtraInfo("pipe")`). */
  readonly pipe?: boolean | undefined;
  /** `getExtraInfo("sslcontext")`: the TLS context or options the connection was made with. */
  readonly sslcontext?: unknown;
  /** For Unix sockets: what `peername`/`sockname` report (Node does not know). */
  readonly peername?: string | undefined;
  readonly sockname?: string | undefined;
}

/** @internal The error for a write or drain on a connection that is gone (asyncio's ConnectionResetError). */
export function connectionLost(): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error("Connection lost");
  error.code = "ECONNRESET";
  return error;
}

function release(waiters: Set<Future<void>>, error: unknown, failed: boolean): void {
  for (const waiter of waiters) {
    if (waiter.done()) continue;
    if (failed) waiter._reject(error);
    else waiter._resolve(undefined);
  }
  waiters.clear();
}

/** @internal */
export class SocketTransport implements ReadTransport, LoopResource {
  readonly socket: Socket;
  readonly loop: Loop;
  readonly #reader: StreamReader | undefined;
  readonly #options: TransportOptions;
  #closing = false;
  #lost = false;
  #error: unknown = undefined;
  #failed = false;
  #eofWritten = false;
  #readPaused = false;
  readonly #drainWaiters = new Set<Future<void>>();
  readonly #closeWaiters = new Set<Future<void>>();
  /** Called once when the connection is lost (the server counts its connections with it). */
  onLost: (() => void) | undefined = undefined;

  constructor(
    socket: Socket,
    loop: Loop,
    reader: StreamReader | undefined,
    options: TransportOptions,
  ) {
    this.socket = socket;
    this.loop = loop;
    this.#reader = reader;
    this.#options = options;
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
    socket.on("drain", this.#onDrain);
    if (reader !== undefined) {
      reader._attach(this, loop);
      socket.on("data", this.#onData);
      socket.on("end", this.#onEnd);
    }
    track(loop, "socket", this);
  }

  // ---------------------------------------------------------------- events

  readonly #onData = (chunk: Buffer): void => {
    // After close() the bytes still arriving are read and dropped, so that the kernel does not
    // answer our close with a reset (which could make the peer lose what we sent last).
    if (!this.#closing) this.#reader?._feedOwned(chunk);
  };

  readonly #onEnd = (): void => {
    this.#reader?.feedEof();
  };

  readonly #onError = (error: Error): void => {
    if (!this.#failed) {
      this.#failed = true;
      this.#error = error;
    }
  };

  readonly #onDrain = (): void => {
    release(this.#drainWaiters, undefined, false);
  };

  readonly #onClose = (): void => {
    if (this.#lost) return;
    this.#lost = true;
    this.#closing = true;
    untrack(this.loop, "socket", this);
    const reader = this.#reader;
    if (reader !== undefined) {
      if (this.#failed) reader.setException(this.#error);
      else reader.feedEof();
    }
    release(this.#drainWaiters, this.#failed ? this.#error : connectionLost(), true);
    release(this.#closeWaiters, this.#error, this.#failed);
    this.onLost?.();
  };

  // ---------------------------------------------------------------- reading

  pauseReading(): void {
    if (this.#readPaused || this.#lost) return;
    this.#readPaused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.#readPaused) return;
    this.#readPaused = false;
    if (!this.#lost) this.socket.resume();
  }

  readCancelled(): void {
    if (this.#options.abortOnCancel) this.abort();
  }

  // ---------------------------------------------------------------- writing

  write(data: Uint8Array): void {
    if (this.#eofWritten) throw new RuntimeError("Cannot call write() after writeEof()");
    // Closing or closed: the data is dropped, as asyncio's transports do; drain() reports it.
    if (this.#closing || data.length === 0) return;
    this.socket.write(data);
  }

  writev(chunks: Uint8Array[]): void {
    if (this.#eofWritten) throw new RuntimeError("Cannot call write() after writeEof()");
    if (this.#closing) return;
    const socket = this.socket;
    socket.cork();
    for (const chunk of chunks) if (chunk.length > 0) socket.write(chunk);
    socket.uncork();
  }

  canWriteEof(): boolean {
    // TLS has no half-close (asyncio's SSL transport says the same).
    return (this.socket as Partial<TLSSocket>).encrypted !== true;
  }

  writeEof(): void {
    if (this.#closing || this.#eofWritten) return;
    if (!this.canWriteEof()) throw new RuntimeError("TLS connections do not support writeEof()");
    this.#eofWritten = true;
    this.socket.end();
  }

  /** Whether write() waits: Node's buffer went over its high-water mark and has not drained. */
  writePaused(): boolean {
    return this.socket.writableNeedDrain;
  }

  /** How many bytes are waiting in Node's write buffer (not yet taken by the kernel). */
  writeBufferSize(): number {
    return this.socket.writableLength;
  }

  /** Wait until the write buffer has drained. */
  async waitDrain(): Promise<void> {
    if (this.#lost) throw connectionLost();
    if (!this.socket.writableNeedDrain) return;
    const waiter = new Future<void>(this.loop);
    this.#drainWaiters.add(waiter);
    try {
      await waiter;
    } catch (error) {
      if (isCancelled(error)) this.readCancelled();
      throw error;
    } finally {
      this.#drainWaiters.delete(waiter);
    }
  }

  // ---------------------------------------------------------------- closing

  isClosing(): boolean {
    return this.#closing;
  }

  /** Whether the connection is gone (Node's `close` event has fired). */
  isLost(): boolean {
    return this.#lost;
  }

  /** Flush the write buffer, then close the socket (both directions). Idempotent. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    const socket = this.socket;
    // Keep reading (and dropping) until the socket is gone, see #onData.
    if (this.#readPaused) {
      this.#readPaused = false;
      socket.resume();
    }
    if (socket.writableFinished || socket.destroyed) {
      socket.destroy();
      return;
    }
    // allowHalfOpen would keep the socket open until the peer's FIN: close it once flushed.
    socket.once("finish", () => socket.destroy());
    socket.end();
  }

  /** Close at once, discarding unsent data. Idempotent. */
  abort(): void {
    this.#closing = true;
    if (!this.#lost) this.socket.destroy();
  }

  /** Wait until the connection is gone; throws the error it failed with, if any. */
  async waitClosed(): Promise<void> {
    if (this.#lost) {
      if (this.#failed) throw this.#error;
      return;
    }
    const waiter = new Future<void>(this.loop);
    this.#closeWaiters.add(waiter);
    try {
      await waiter;
    } catch (error) {
      if (isCancelled(error)) this.readCancelled();
      throw error;
    } finally {
      this.#closeWaiters.delete(waiter);
    }
  }

  /** @internal Shut down at the end of run(). */
  _shutdown(): void {
    this.abort();
  }

  // ---------------------------------------------------------------- information

  getExtraInfo(name: string, fallback: unknown): unknown {
    const socket = this.socket;
    const options = this.#options;
    const tls = (socket as Partial<TLSSocket>).encrypted === true ? (socket as TLSSocket) : null;
    let value: unknown;
    switch (name) {
      case "peername":
        value =
          socket.remoteAddress === undefined
            ? options.peername
            : {
                address: socket.remoteAddress,
                family: socket.remoteFamily,
                port: socket.remotePort,
              };
        break;
      case "sockname":
        value = socket.localAddress === undefined ? options.sockname : socket.address();
        break;
      case "socket":
        value = options.pipe === true ? undefined : socket;
        break;
      case "pipe":
        value = options.pipe === true ? socket : undefined;
        break;
      case "sslcontext":
        value = tls === null ? undefined : options.sslcontext;
        break;
      case "ssl_object":
        value = tls ?? undefined;
        break;
      case "peercert":
        value = tls?.getPeerCertificate();
        break;
      case "cipher":
        value = tls?.getCipher();
        break;
      default:
        value = undefined;
    }
    return value === undefined ? fallback : value;
  }
}
