/**
 * StreamWriter: writes to a connection or a pipe, with flow control (asyncio.StreamWriter).
 *
 * `write()` buffers and never waits; `await drain()` is where a writer waits for the peer to
 * catch up. Unlike asyncio, a `drain()` or `waitClosed()` that is cancelled aborts the
 * connection by default (`abortOnCancel`), so that a timeout never leaves a half-open socket.
 *
 * @module
 */
import type { Socket } from "node:net";
import { isCancelled } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { typeError } from "../validate.ts";
import { type BytesLike, type StreamReader, toBytes } from "./stream-reader.ts";
import { connectionLost, type SocketTransport } from "./transport.ts";

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * The writing half of a connection (or a child's stdin). Mirrors `asyncio.StreamWriter`.
 * Made by `openConnection`, `startServer` and `createSubprocessExec`.
 *
 * Data is a `Uint8Array` (a `Buffer` is one), or a string, written as UTF-8.
 *
 * @example
 * writer.write("hello\n");
 * await writer.drain(); // waits while the peer is not reading
 * writer.close();
 * await writer.waitClosed();
 */
export class StreamWriter implements AsyncDisposable {
  readonly #transport: SocketTransport;
  readonly #reader: StreamReader | undefined;

  /** @internal Use `openConnection`, `startServer` or `createSubprocessExec`. */
  constructor(transport: SocketTransport, reader: StreamReader | undefined) {
    this.#transport = transport;
    this.#reader = reader;
  }

  /** The Node socket (or pipe) underneath, asyncio's `writer.transport`. */
  get transport(): Socket {
    return this.#transport.socket;
  }

  /**
   * Bytes written but not yet handed to the kernel (asyncio's
   * `transport.get_write_buffer_size()`); `drain()` waits while this is over the high-water mark.
   */
  get writeBufferSize(): number {
    return this.#transport.writeBufferSize();
  }

  /**
   * Queue `data` for sending; never waits. Call `await drain()` regularly when writing a lot,
   * so that a slow peer slows the writer down instead of filling memory. After `close()` the
   * data is dropped (and `drain()` throws).
   *
   * @throws {RuntimeError} after `writeEof()`.
   */
  write(data: BytesLike): void {
    this.#transport.write(toBytes("writer.write()", "data", data));
  }

  /** Queue every chunk of `data` for sending, as one write when possible. */
  writelines(data: Iterable<BytesLike>): void {
    if (data === null || typeof data !== "object" || !(Symbol.iterator in data)) {
      throw typeError("writer.writelines()", "data", "an iterable of bytes or strings", data);
    }
    const chunks: Uint8Array[] = [];
    for (const chunk of data) chunks.push(toBytes("writer.writelines()", "data", chunk));
    this.#transport.writev(chunks);
  }

  /** Whether `writeEof()` is supported (not on TLS connections). */
  canWriteEof(): boolean {
    return this.#transport.canWriteEof();
  }

  /**
   * Close the writing direction once the buffer is flushed (the peer reads the end of the
   * stream); reading goes on.
   *
   * @throws {RuntimeError} on a TLS connection.
   */
  writeEof(): void {
    this.#transport.writeEof();
  }

  /**
   * Wait until the write buffer is below its high-water mark: at once if it is, else until the
   * peer has read enough. Several tasks may wait together.
   *
   * @throws the reader's error, if the connection failed.
   * @throws {Error} with code `ECONNRESET` ("Connection lost") once the connection is closed.
   * @throws {CancelledError} if cancelled; with `abortOnCancel` (the default) the connection is
   *   aborted too.
   */
  drain(): Promise<void> {
    const reader = this.#reader;
    const transport = this.#transport;
    // The common case, once per write: nothing to wait for (no promise chain to build).
    if (!transport.isClosing() && !transport.writePaused() && reader?.exception() === undefined) {
      return RESOLVED;
    }
    return this.#drainSlow();
  }

  async #drainSlow(): Promise<void> {
    const reader = this.#reader;
    if (reader !== undefined && reader.exception() !== undefined) throw reader.exception();
    const transport = this.#transport;
    if (transport.isClosing()) {
      // Let a pending connection loss be seen first, so that a `write(); await drain()` loop
      // on a dead connection ends with that error rather than spinning.
      await sleep(0);
      if (reader !== undefined && reader.exception() !== undefined) throw reader.exception();
      throw connectionLost();
    }
    await transport.waitDrain();
  }

  /** Start closing: flush what is buffered, then close the connection. Idempotent. */
  close(): void {
    this.#transport.close();
  }

  /** Close at once, discarding unsent data (asyncio's `transport.abort()`). */
  abort(): void {
    this.#transport.abort();
  }

  /** True once `close()` or `abort()` was called, or the connection was lost. */
  isClosing(): boolean {
    return this.#transport.isClosing();
  }

  /**
   * Wait until the connection is closed (call `close()` first, or it waits for the peer).
   *
   * @throws the error the connection failed with, if any.
   * @throws {CancelledError} if cancelled; with `abortOnCancel` (the default) the connection is
   *   aborted, so nothing is left half-closed.
   */
  waitClosed(): Promise<void> {
    return this.#transport.waitClosed();
  }

  /**
   * Information about the connection, or `fallback`. Keys, as asyncio: `peername` and
   * `sockname` (`{ address, family, port }` as `node:net` gives them, or a path for Unix
   * sockets), `socket` (the `net.Socket`), `pipe` (a child's pipe), and for TLS `sslcontext`
   * (the `tls` option given), `ssl_object` (the `TLSSocket`), `peercert`, `cipher`.
   */
  getExtraInfo(name: string, fallback?: unknown): unknown {
    if (typeof name !== "string")
      throw typeError("writer.getExtraInfo()", "name", "a string", name);
    return this.#transport.getExtraInfo(name, fallback);
  }

  /**
   * `await using writer = ...`: close, and wait until closed. A connection error is not
   * thrown here (the reads and drains that met it did).
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    try {
      await this.waitClosed();
    } catch (error) {
      if (isCancelled(error)) throw error;
    }
  }

  /** `<StreamWriter closing transport=...>`. */
  toString(): string {
    const socket = this.#transport.socket;
    const peer =
      socket.remoteAddress === undefined ? "" : ` ${socket.remoteAddress}:${socket.remotePort}`;
    return `<StreamWriter${peer}${this.isClosing() ? " closing" : ""}>`;
  }
}
