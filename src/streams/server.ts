/**
 * Servers that hand each connection to a handler task: `startServer` (TCP, optionally TLS) and
 * `startUnixServer` (asyncio.start_server, asyncio.start_unix_server, asyncio.Server).
 *
 * Each connection's handler runs as its own task, supervised by the server: a handler that
 * throws is reported through the loop's exception handler and its connection closed, and the
 * server goes on. Beyond asyncio, `shutdown({ timeout })` stops accepting, lets the handlers
 * finish within a deadline, then cancels the rest.
 *
 * @module
 */
import { lstatSync, renameSync, statSync, unlinkSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { getRunningLoop } from "../core/context.ts";
import { type CallbackFn, Future } from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import type { Task } from "../core/task.ts";
import { isCancelled, RuntimeError, TimeoutError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { timeout } from "../timeouts.ts";
import {
  checkFunction,
  checkInteger,
  checkOptionalNumber,
  checkOptions,
  typeError,
} from "../validate.ts";
import { wait } from "../wait.ts";
import { type LoopResource, track, untrack } from "./loop-resources.ts";
import { checkPort } from "./open-connection.ts";
import { checkLimit, StreamReader } from "./stream-reader.ts";
import { StreamWriter } from "./stream-writer.ts";
import { SocketTransport } from "./transport.ts";

/** What a server calls for each connection (usually an async function); it runs as a task. */
export type ConnectionHandler = (reader: StreamReader, writer: StreamWriter) => unknown;

/** Options shared by `startServer` and `startUnixServer`. */
export interface ServerOptions {
  /** Each connection reader's line limit (64 KiB). */
  limit?: number | undefined;
  /** Serve TLS: `tls.createServer` options (`key`, `cert`, `ca`, `requestCert`, ...). */
  tls?: tls.TlsOptions | undefined;
  /** The listen backlog (default 100, as asyncio). */
  backlog?: number | undefined;
  /**
   * Accept connections right away (default true). With false, connections wait in the backlog
   * until `startServing()` or `serveForever()`.
   */
  startServing?: boolean | undefined;
  /** Abort a connection when its handler is cancelled or one of its waits is (default true). */
  abortOnCancel?: boolean | undefined;
}

/** Options of `startServer`. */
export interface StartServerOptions extends ServerOptions {
  /** Listen on IPv6 only when the host is `::` (no dual stack). */
  ipv6Only?: boolean | undefined;
  /** `SO_REUSEPORT`, where Node and the OS support it. */
  reusePort?: boolean | undefined;
  /** Disable Nagle's algorithm on accepted sockets (default true, as asyncio). */
  noDelay?: boolean | undefined;
  /** TCP keep-alive on accepted sockets. */
  keepAlive?: boolean | undefined;
}

/** Options of `startUnixServer`. */
export interface StartUnixServerOptions extends ServerOptions {
  /**
   * Remove the socket file when the server closes, unless it was replaced meanwhile (default
   * true, as asyncio 3.13).
   */
  cleanupSocket?: boolean | undefined;
}

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

interface Listener {
  readonly server: net.Server;
  /** For Unix sockets: the path, and the identity of the file we created. */
  readonly path?: string | undefined;
  readonly inode?: { dev: number; ino: number } | undefined;
}

interface Settings {
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

/** Remove a stale socket file at `path` before binding, as asyncio does; other files stay. */
function removeStaleSocket(path: string): void {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (stats?.isSocket() === true) unlinkSync(path);
}

/** Listen, as a cancellation point; on failure or cancellation the server is closed. */
async function listen(loop: Loop, server: net.Server, options: net.ListenOptions): Promise<void> {
  const waiter = new Future<void>(loop);
  const onListening = (): void => {
    if (!waiter.done()) waiter._resolve(undefined);
  };
  const onError = (error: Error): void => {
    if (!waiter.done()) waiter._reject(error);
  };
  server.once("listening", onListening);
  server.once("error", onError);
  server.listen(options);
  try {
    await waiter;
  } catch (error) {
    server.close();
    throw error;
  } finally {
    server.off("listening", onListening);
    server.off("error", onError);
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
    if (settings.tls === undefined && socket.remoteAddress !== undefined) {
      socket.setNoDelay(settings.noDelay);
      if (settings.keepAlive) socket.setKeepAlive(true);
    }
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

function checkServerOptions(
  where: string,
  handler: unknown,
  options: ServerOptions | undefined,
): void {
  checkFunction(where, "handler", handler);
  checkOptions(where, options);
  const secure = options?.tls;
  if (secure !== undefined && (secure === null || typeof secure !== "object")) {
    throw typeError(where, "tls", "tls.createServer options", secure);
  }
  if (options?.backlog !== undefined) checkInteger(where, "backlog", options.backlog, 0);
  for (const name of ["startServing", "abortOnCancel"] as const) {
    const value = options?.[name];
    if (value !== undefined && typeof value !== "boolean")
      throw typeError(where, name, "a boolean", value);
  }
}

function makeNetServer(secure: tls.TlsOptions | undefined): net.Server {
  return secure === undefined
    ? net.createServer({ allowHalfOpen: true })
    : tls.createServer({ ...secure, allowHalfOpen: true });
}

/**
 * Start a TCP server (TLS with the `tls` option): `handler(reader, writer)` runs as a new task
 * for each connection. `host` may be a list (one listening socket each) or `null` for every
 * interface; `port` 0 picks a free port (see `server.sockets[0].address()`).
 * Mirrors `asyncio.start_server`.
 *
 * A handler that throws is reported to the loop's exception handler ("Unhandled exception in
 * client_connected_cb") and its connection closed; a cancelled one has its connection aborted.
 * A handler that returns leaves its connection as it is (close the writer).
 *
 * @throws the listen error (`EADDRINUSE`, `EACCES`, ...); nothing is left listening.
 * @example
 * const server = await startServer(async (reader, writer) => {
 *   const line = await reader.readline();
 *   writer.write(line);
 *   await writer.drain();
 *   writer.close();
 * }, "127.0.0.1", 0);
 * console.log(server.sockets[0]?.address());
 */
export async function startServer(
  handler: ConnectionHandler,
  host: string | readonly string[] | null | undefined,
  port: number,
  options?: StartServerOptions,
): Promise<Server> {
  const where = "startServer()";
  checkServerOptions(where, handler, options);
  checkPort(where, port);
  const hosts =
    host === null || host === undefined || host === ""
      ? [undefined]
      : typeof host === "string"
        ? [host]
        : Array.isArray(host) && host.every((h) => typeof h === "string")
          ? host
          : undefined;
  if (hosts === undefined || hosts.length === 0) {
    throw typeError(where, "host", "a string, a non-empty list of strings, or null", host);
  }
  const loop = getRunningLoop();
  const settings: Settings = {
    handler,
    limit: checkLimit(where, options?.limit),
    abortOnCancel: options?.abortOnCancel ?? true,
    noDelay: options?.noDelay ?? true,
    keepAlive: options?.keepAlive ?? false,
    cleanupSocket: true,
    tls: options?.tls,
  };
  const server = new Server(loop, settings);
  try {
    for (const h of hosts) {
      const listenOptions: net.ListenOptions = { port, backlog: options?.backlog ?? 100 };
      if (h !== undefined) listenOptions.host = h;
      if (options?.ipv6Only !== undefined) listenOptions.ipv6Only = options.ipv6Only;
      if (options?.reusePort !== undefined) {
        (listenOptions as { reusePort?: boolean }).reusePort = options.reusePort;
      }
      const netServer = makeNetServer(settings.tls);
      await listen(loop, netServer, listenOptions);
      server._addListener({ server: netServer });
    }
  } catch (error) {
    server.close();
    throw error;
  }
  if (options?.startServing ?? true) await server.startServing();
  return server;
}

/**
 * Start a Unix domain socket server at `path`: `handler(reader, writer)` runs as a new task for
 * each connection. A stale socket file at `path` is replaced; the file is removed when the
 * server closes (see `cleanupSocket`). Mirrors `asyncio.start_unix_server`.
 *
 * @throws the listen error (`EADDRINUSE` if `path` is another kind of file, `EACCES`, ...).
 */
export async function startUnixServer(
  handler: ConnectionHandler,
  path: string,
  options?: StartUnixServerOptions,
): Promise<Server> {
  const where = "startUnixServer()";
  checkServerOptions(where, handler, options);
  if (typeof path !== "string" || path === "") {
    throw typeError(where, "path", "a non-empty string", path);
  }
  const cleanup = options?.cleanupSocket;
  if (cleanup !== undefined && typeof cleanup !== "boolean") {
    throw typeError(where, "cleanupSocket", "a boolean", cleanup);
  }
  const loop = getRunningLoop();
  const settings: Settings = {
    handler,
    limit: checkLimit(where, options?.limit),
    abortOnCancel: options?.abortOnCancel ?? true,
    noDelay: false,
    keepAlive: false,
    cleanupSocket: cleanup ?? true,
    tls: options?.tls,
  };
  const server = new Server(loop, settings);
  const abstract = path.startsWith("\0");
  try {
    if (!abstract) removeStaleSocket(path);
    const netServer = makeNetServer(settings.tls);
    await listen(loop, netServer, { path, backlog: options?.backlog ?? 100 });
    const stats = abstract ? undefined : statSync(path, { throwIfNoEntry: false });
    server._addListener({
      server: netServer,
      path: abstract ? undefined : path,
      inode: stats === undefined ? undefined : { dev: stats.dev, ino: stats.ino },
    });
  } catch (error) {
    server.close();
    throw error;
  }
  if (options?.startServing ?? true) await server.startServing();
  return server;
}
