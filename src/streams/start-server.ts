/**
 * Starting servers: `startServer` (TCP, optionally TLS) and `startUnixServer`
 * (asyncio.start_server, asyncio.start_unix_server). The `Server` they return is in server.ts.
 *
 * @module
 */
import { lstatSync, statSync, unlinkSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { getRunningLoop } from "../core/context.ts";
import { Future } from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import { checkFunction, checkInteger, checkOptions, typeError } from "../validate.ts";
import { checkPort } from "./open-connection.ts";
import { type ConnectionHandler, Server, type Settings } from "./server.ts";
import { checkLimit } from "./stream-reader.ts";

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

function makeNetServer(settings: Settings): net.Server {
  // Half-open as asyncio's stream protocol: the peer's EOF ends reading, not writing. Node
  // applies noDelay and keepAlive to each accepted TCP socket (not to Unix ones).
  const options = {
    allowHalfOpen: true,
    noDelay: settings.noDelay,
    keepAlive: settings.keepAlive,
  };
  return settings.tls === undefined
    ? net.createServer(options)
    : tls.createServer({ ...settings.tls, ...options });
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
      const netServer = makeNetServer(settings);
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
    const netServer = makeNetServer(settings);
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
