/**
 * Servers that hand each connection to a handler task (asyncio.Server); `startServer` and
 * `startUnixServer` (start-server.ts) create them.
 *
 * Each connection's handler runs as its own task, supervised by the server: a handler that
 * throws is reported through the loop's exception handler and its connection closed, and the
 * server goes on. Beyond asyncio, `shutdown({ timeout })` stops accepting, lets the handlers
 * finish within a deadline, then cancels the rest.
 *
 * @module
 */
import { renameSync, statSync } from "node:fs";
import type net from "node:net";
import type tls from "node:tls";
import { type CallbackFn, Future } from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import type { Task } from "../core/task.ts";
import { isCancelled, RuntimeError, TimeoutError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { timeout } from "../timeouts.ts";
import { checkOptionalNumber, checkOptions } from "../validate.ts";
import { wait } from "../wait.ts";
import { type LoopResource, track, untrack } from "./loop-resources.ts";
import { StreamReader } from "./stream-reader.ts";
import { StreamWriter } from "./stream-writer.ts";
import { SocketTransport } from "./transport.ts";

/** What a server calls for each connection (usually an async function); it runs as a task. */
export type ConnectionHandler = (reader: StreamReader, writer: StreamWriter) => unknown;

/** Options of `server.shutdown()`. */
export interface ShutdownOptions {
  /**
   * How long the handlers get to finish, and the connections to close, in ms (default 30 s);
   * `null` waits as long as they take.
   */
  timeout?: number | null | undefined;
}

/** One listening socket of a server. */
export interface ServerSocket {
  /** The bound address, as `net.Server.address()` returns it (a path for Unix sockets). */
  address(): net.AddressInfo | string | null;
}

/** @internal A listening socket of a server. */
export interface Listener {
  readonly server: net.Server;
  /** For Unix sockets: the path, and the identity of the file we created. */
  readonly path?: string | undefined;
  readonly inode?: { dev: number; ino: number } | undefined;
}

/** @internal How a server handles its connections. */
export interface Settings {
  readonly handler: ConnectionHandler;
  readonly limit: number;
  readonly abortOnCancel: boolean;
  readonly noDelay: boolean;
  readonly keepAlive: boolean;
  readonly cleanupSocket: boolean;
  readonly tls: tls.TlsOptions | undefined;
}

const DEFAULT_SHUTDOWN_TIMEOUT = 30_000;

/**
 * Close a listener. Node removes a Unix socket's file whatever it is by then; asyncio removes
 * it only if it is still the socket file the server created, and only with `cleanupSocket`.
 * So a file that must stay is moved aside while Node closes the server, then put back.
 */
function closeListener(listener: Listener, cleanup: boolean): void {
  const { server, path, inode } = listener;
  const stats = path === undefined ? undefined : statSync(path, { throwIfNoEntry: false });
  const ours = stats !== undefined && stats.dev === inode?.dev && stats.ino === inode?.ino;
  if (path === undefined || stats === undefined || (ours && cleanup)) {
    server.close();
    return;
  }
  const aside = `${path}.aiots-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    renameSync(path, aside);
  } catch {
    server.close();
    return;
  }
  try {
    server.close();
  } finally {
    renameSync(aside, path);
  }
}

interface HandlerRecord {
  readonly server: Server;
  readonly task: Task<unknown>;
  readonly transport: SocketTransport;
}

function onHandlerDone(this: void, record: HandlerRecord): void {
  record.server._handlerDone(record);
}

/**
 * A listening server; get one from `startServer` or `startUnixServer`. Mirrors `asyncio.Server`.
 *
 * - `close()` stops listening (connections stay open); `waitClosed()` returns once the server
 *   is closed and every connection is gone; `closeClients()`/`abortClients()` end them.
 * - `serveForever()` waits until cancelled, then closes the server and waits for it.
 * - `shutdown({ timeout })` is a graceful stop: no new connections, handlers get `timeout` ms to
 *   finish, then they are cancelled and the remaining connections aborted.
 * - `await using server = await startServer(...)` closes it and waits at the end of the block.
 *
 * @example
 * const server = await startServer(async (reader, writer) => {
 *   for await (const line of reader) writer.write(line);
 *   writer.close();
 * }, "127.0.0.1", 8888);
 * await server.serveForever();
 */
export class Server implements AsyncDisposable, LoopResource {
  readonly #loop: Loop;
  readonly #settings: Settings;
  #listeners: Listener[] | undefined = [];
  #unixPath: string | undefined = undefined;
  #sockets: readonly ServerSocket[] = [];
  #serving = false;
  // Accepted before serving started: they wait, paused, for startServing().
  #pending: net.Socket[] = [];
  readonly #connections = new Set<SocketTransport>();
  readonly #tasks = new Set<Task<unknown>>();
  // Tasks blocked in waitClosed(); undefined once the server is closed with no connection left.
  #waiters: Set<Future<void>> | undefined = new Set();
  #forever: Future<void> | undefined = undefined;

  /** @internal Use `startServer` or `startUnixServer`. */
  constructor(loop: Loop, settings: Settings) {
    this.#loop = loop;
    this.#settings = settings;
    track(loop, "server", this);
  }

  /** @internal Start accepting on `listener` (already listening). */
  _addListener(listener: Listener): void {
    const listeners = this.#listeners;
    if (listeners === undefined) {
      closeListener(listener, this.#settings.cleanupSocket);
      return;
    }
    listeners.push(listener);
    this.#unixPath ??= listener.path;
    const server = listener.server;
    server.on(this.#settings.tls === undefined ? "connection" : "secureConnection", this.#accept);
    server.on("error", this.#onServerError);
    this.#sockets = Object.freeze(
      listeners.map((l): ServerSocket => ({ address: () => l.server.address() })),
    );
  }

  readonly #onServerError = (error: Error): void => {
    this.#loop.callExceptionHandler({
      message: "Error on a listening socket",
      exception: error,
      server: this,
    });
  };

  readonly #accept = (socket: net.Socket): void => {
    if (this.#listeners === undefined) {
      socket.destroy();
      return;
    }
    if (!this.#serving) {
      socket.pause();
      // Unlike a connection still in the kernel's backlog, this one needs an error listener.
      socket.on("error", noop);
      this.#pending.push(socket);
      return;
    }
    this.#connect(socket);
  };

  #connect(socket: net.Socket): void {
    const settings = this.#settings;
    const loop = this.#loop;
    const reader = new StreamReader({ limit: settings.limit });
    const unixPath = this.#unixPath;
    const transport = new SocketTransport(socket, loop, reader, {
      abortOnCancel: settings.abortOnCancel,
      sslcontext: settings.tls,
      peername: unixPath === undefined ? undefined : "",
      sockname: unixPath,
    });
    const writer = new StreamWriter(transport, reader);
    this.#connections.add(transport);
    transport.onLost = () => this.#detach(transport);
    socket.off("error", noop);
    if (socket.isPaused()) socket.resume();
    const handler = settings.handler;
    const task = loop.createTask(async () => handler(reader, writer), {
      name: `connection-handler-${handler.name || "anonymous"}`,
    }) as Task<unknown>;
    this.#tasks.add(task);
    const record: HandlerRecord = { server: this, task, transport };
    task._addCallback(onHandlerDone as CallbackFn, record);
  }

  /** @internal A handler task finished: report a failure, close the connection if it failed. */
  _handlerDone({ task, transport }: HandlerRecord): void {
    this.#tasks.delete(task);
    if (task.cancelled()) {
      if (this.#settings.abortOnCancel) transport.abort();
      else transport.close();
      return;
    }
    const exception = task.exception();
    if (exception !== undefined) {
      this.#loop.callExceptionHandler({
        message: "Unhandled exception in client_connected_cb",
        exception,
        task,
        transport: transport.socket,
      });
      transport.close();
    }
  }

  #detach(transport: SocketTransport): void {
    this.#connections.delete(transport);
    if (this.#listeners === undefined && this.#connections.size === 0) this.#wakeUp();
  }

  #wakeUp(): void {
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    this.#waiters = undefined;
    for (const waiter of waiters) if (!waiter.done()) waiter._resolve(undefined);
  }

  /** The loop the server runs on. */
  getLoop(): Loop {
    return this.#loop;
  }

  /** The listening sockets, one per address; empty once closed. */
  get sockets(): readonly ServerSocket[] {
    return this.#sockets;
  }

  /** True while the server accepts connections. */
  isServing(): boolean {
    return this.#serving;
  }

  /** Start accepting connections (if created with `startServing: false`); idempotent. */
  async startServing(): Promise<void> {
    this.#startServing();
    await sleep(0);
  }

  #startServing(): void {
    if (this.#serving || this.#listeners === undefined) return;
    this.#serving = true;
    const pending = this.#pending;
    this.#pending = [];
    for (const socket of pending) {
      if (socket.destroyed) socket.off("error", noop);
      else this.#connect(socket);
    }
  }

  /**
   * Stop listening; the connections already accepted stay open (see `closeClients`). A
   * pending `serveForever()` ends with `CancelledError`. Idempotent.
   */
  close(): void {
    const listeners = this.#listeners;
    if (listeners === undefined) return;
    this.#listeners = undefined;
    this.#sockets = [];
    this.#serving = false;
    untrack(this.#loop, "server", this);
    for (const listener of listeners) closeListener(listener, this.#settings.cleanupSocket);
    for (const socket of this.#pending) socket.destroy();
    this.#pending = [];
    const forever = this.#forever;
    if (forever !== undefined && !forever.done()) forever.cancel();
    if (this.#connections.size === 0) this.#wakeUp();
  }

  /** Close every connection gracefully (after flushing what was written). */
  closeClients(): void {
    for (const transport of this.#connections) transport.close();
  }

  /** Abort every connection at once, discarding unsent data. */
  abortClients(): void {
    for (const transport of this.#connections) transport.abort();
  }

  /**
   * Wait until the server is closed and every connection is gone (in either order). Returns at
   * once if that already happened.
   */
  async waitClosed(): Promise<void> {
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    const waiter = new Future<void>(this.#loop);
    waiters.add(waiter);
    try {
      await waiter;
    } finally {
      waiters.delete(waiter);
    }
  }

  /**
   * Serve until cancelled; then close the server, wait until it is closed (every connection
   * gone) and throw the `CancelledError`. Mirrors `asyncio.Server.serve_forever`.
   *
   * @throws {RuntimeError} if the server is closed, or another task is already in `serveForever()`.
   */
  async serveForever(): Promise<never> {
    if (this.#forever !== undefined) {
      throw new RuntimeError(
        `server ${this.toString()} is already being awaited on serveForever()`,
      );
    }
    if (this.#listeners === undefined)
      throw new RuntimeError(`server ${this.toString()} is closed`);
    this.#startServing();
    const forever = new Future<void>(this.#loop);
    this.#forever = forever;
    try {
      await forever;
    } catch (error) {
      if (isCancelled(error)) {
        this.close();
        await this.waitClosed();
      }
      throw error;
    } finally {
      this.#forever = undefined;
    }
    throw new RuntimeError("serveForever() ended without being cancelled");
  }

  /**
   * Stop gracefully: stop listening, give the handlers `timeout` ms to finish and their
   * connections to close, then cancel the handlers still running, abort the connections still
   * open, and wait until everything is gone. Beyond asyncio.
   *
   * @throws {CancelledError} if cancelled; everything is cancelled and aborted first.
   * @example
   * process.once("SIGTERM", () => shutdownTask.cancel());
   * await server.shutdown({ timeout: 10_000 });
   */
  async shutdown(options?: ShutdownOptions): Promise<void> {
    checkOptions("server.shutdown()", options);
    const ms = options?.timeout === undefined ? DEFAULT_SHUTDOWN_TIMEOUT : options.timeout;
    checkOptionalNumber("server.shutdown()", "timeout", ms);
    this.close();
    let cancelled: Error | undefined;
    try {
      await timeout(ms, async () => {
        while (this.#tasks.size > 0) await wait([...this.#tasks]);
        this.closeClients();
        await this.waitClosed();
      });
      return;
    } catch (error) {
      if (isCancelled(error)) cancelled = error;
      else if (!(error instanceof TimeoutError)) throw error;
    }
    // Out of time (or cancelled): stop the handlers and the connections, and wait for both.
    const tasks = [...this.#tasks];
    for (const task of tasks) task.cancel();
    this.abortClients();
    if (tasks.length > 0) await wait(tasks);
    this.abortClients();
    await this.waitClosed();
    if (cancelled !== undefined) throw cancelled;
  }

  /** `await using`: close, then wait until closed (asyncio's `async with server`). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }

  /** @internal Shut down at the end of run(): stop listening. */
  _shutdown(): void {
    this.close();
  }

  /** `<Server sockets=(127.0.0.1:8888)>`. */
  toString(): string {
    const addresses = this.#sockets.map((s) => {
      const a = s.address();
      return a === null || typeof a === "string" ? String(a) : `${a.address}:${a.port}`;
    });
    return `<Server sockets=(${addresses.join(", ")})>`;
  }
}

function noop(): void {}
