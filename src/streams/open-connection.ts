/**
 * Client connections as reader/writer pairs: `openConnection` (TCP, optionally TLS) and
 * `openUnixConnection` (asyncio.open_connection, asyncio.open_unix_connection).
 *
 * Connecting is a cancellation point: a connect that is cancelled (or times out under
 * `timeout()`) destroys its socket before the `CancelledError` propagates.
 *
 * @module
 */
import net from "node:net";
import tls from "node:tls";
import { getRunningLoop } from "../core/context.ts";
import { Future } from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import { checkInteger, checkOptions, rangeError, typeError } from "../validate.ts";
import { checkLimit, StreamReader } from "./stream-reader.ts";
import { StreamWriter } from "./stream-writer.ts";
import { SocketTransport } from "./transport.ts";

/** Options shared by `openConnection` and `openUnixConnection`. */
export interface ConnectionOptions {
  /** The reader's line limit; reading pauses above twice this many buffered bytes (64 KiB). */
  limit?: number | undefined;
  /**
   * Connect with TLS: `true` for the defaults (certificates verified against Node's CA store),
   * or `tls.connect` options (`ca`, `cert`, `key`, `rejectUnauthorized`, `ALPNProtocols`, ...).
   */
  tls?: boolean | tls.ConnectionOptions | undefined;
  /** The TLS server name (SNI) and the name the certificate must match (default: `host`). */
  serverHostname?: string | undefined;
  /** Aborting this signal destroys the socket, while connecting or later. */
  signal?: AbortSignal | undefined;
  /**
   * Abort the connection when a task waiting on it (read, drain, waitClosed) is cancelled
   * (default true). With false, a cancelled wait leaves the connection open and usable, as in
   * asyncio.
   */
  abortOnCancel?: boolean | undefined;
}

/** Options of `openConnection`. */
export interface OpenConnectionOptions extends ConnectionOptions {
  /** 4 or 6 to force an address family (default: either, with Happy Eyeballs). */
  family?: number | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
  /** Disable Nagle's algorithm (default true, as asyncio sets `TCP_NODELAY`). */
  noDelay?: boolean | undefined;
  /** Enable TCP keep-alive probes. */
  keepAlive?: boolean | undefined;
}

interface Checked {
  limit: number;
  tls: tls.ConnectionOptions | undefined;
  abortOnCancel: boolean;
}

function checkBoolean(where: string, name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw typeError(where, name, "a boolean", value);
  }
}

/** @internal Validate the options common to the client functions. */
export function checkConnectionOptions(
  where: string,
  options: ConnectionOptions | undefined,
): Checked {
  checkOptions(where, options);
  const limit = checkLimit(where, options?.limit);
  const tlsOption = options?.tls;
  if (
    tlsOption !== undefined &&
    typeof tlsOption !== "boolean" &&
    (tlsOption === null || typeof tlsOption !== "object")
  ) {
    throw typeError(where, "tls", "a boolean or tls.connect options", tlsOption);
  }
  checkBoolean(where, "abortOnCancel", options?.abortOnCancel);
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw typeError(where, "signal", "an AbortSignal", signal);
  }
  return {
    limit,
    tls: tlsOption === true ? {} : tlsOption === false ? undefined : tlsOption,
    abortOnCancel: options?.abortOnCancel ?? true,
  };
}

/** @internal Validate a port number (0-65535). */
export function checkPort(where: string, port: unknown): number {
  checkInteger(where, "port", port, 0);
  if (port > 65_535) throw rangeError(where, "port", "an integer from 0 to 65535", port);
  return port;
}

/**
 * Wait for `socket` to connect (`event`), as a cancellation point; on failure or cancellation
 * the socket is destroyed before this throws.
 */
async function connected(
  loop: Loop,
  socket: net.Socket,
  transport: SocketTransport,
  event: "connect" | "secureConnect",
): Promise<void> {
  const waiter = new Future<void>(loop);
  const onConnect = (): void => {
    if (!waiter.done()) waiter._resolve(undefined);
  };
  const onError = (error: Error): void => {
    if (!waiter.done()) waiter._reject(error);
  };
  socket.once(event, onConnect);
  socket.once("error", onError);
  try {
    await waiter;
  } catch (error) {
    transport.abort();
    throw error;
  } finally {
    socket.off(event, onConnect);
    socket.off("error", onError);
  }
}

async function connect(
  loop: Loop,
  checked: Checked,
  options: ConnectionOptions | undefined,
  netOptions: net.NetConnectOpts,
  peername: string | undefined,
): Promise<[StreamReader, StreamWriter]> {
  const reader = new StreamReader({ limit: checked.limit });
  const secure = checked.tls;
  // Half-open as asyncio's stream protocol: the peer's EOF ends reading, not writing.
  const common: { allowHalfOpen: true; signal?: AbortSignal } = { allowHalfOpen: true };
  if (options?.signal !== undefined) common.signal = options.signal;
  const socket =
    secure === undefined
      ? net.connect({ ...netOptions, ...common })
      : tls.connect({ ...netOptions, ...secure, ...common } as tls.ConnectionOptions);
  // The transport listens from the start: an error or a reset before the handshake ends must
  // not be an unhandled 'error' event, and the socket is tracked for the end of run().
  const transport = new SocketTransport(socket, loop, reader, {
    abortOnCancel: checked.abortOnCancel,
    sslcontext: secure,
    peername,
  });
  await connected(loop, socket, transport, secure === undefined ? "connect" : "secureConnect");
  return [reader, new StreamWriter(transport, reader)];
}

/**
 * Open a TCP connection (TLS with the `tls` option) and return a `[reader, writer]` pair.
 * Mirrors `asyncio.open_connection`.
 *
 * @throws the connection error (`ECONNREFUSED`, `ENOTFOUND`, a TLS error, ...).
 * @throws {CancelledError} if cancelled while connecting; the socket is destroyed.
 * @example
 * const [reader, writer] = await openConnection("127.0.0.1", 8888);
 * writer.write("ping\n");
 * console.log((await reader.readline()).toString());
 * writer.close();
 * await writer.waitClosed();
 */
export function openConnection(
  host: string,
  port: number,
  options?: OpenConnectionOptions,
): Promise<[StreamReader, StreamWriter]> {
  const where = "openConnection()";
  try {
    if (typeof host !== "string") throw typeError(where, "host", "a string", host);
    checkPort(where, port);
    const checked = checkConnectionOptions(where, options);
    const netOptions: net.TcpNetConnectOpts = {
      host,
      port,
      noDelay: options?.noDelay ?? true,
      keepAlive: options?.keepAlive ?? false,
    };
    if (options?.family !== undefined) netOptions.family = options.family;
    if (options?.localAddress !== undefined) netOptions.localAddress = options.localAddress;
    if (options?.localPort !== undefined) netOptions.localPort = options.localPort;
    if (checked.tls !== undefined) {
      const servername = options?.serverHostname ?? (net.isIP(host) === 0 ? host : undefined);
      if (servername !== undefined) checked.tls = { servername, ...checked.tls };
    }
    return connect(getRunningLoop(), checked, options, netOptions, undefined);
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

/**
 * Open a Unix domain socket connection and return a `[reader, writer]` pair.
 * Mirrors `asyncio.open_unix_connection`.
 *
 * @throws the connection error (`ENOENT`, `ECONNREFUSED`, ...).
 * @throws {CancelledError} if cancelled while connecting; the socket is destroyed.
 */
export function openUnixConnection(
  path: string,
  options?: ConnectionOptions,
): Promise<[StreamReader, StreamWriter]> {
  const where = "openUnixConnection()";
  try {
    if (typeof path !== "string" || path === "") {
      throw typeError(where, "path", "a non-empty string", path);
    }
    const checked = checkConnectionOptions(where, options);
    if (checked.tls !== undefined && options?.serverHostname !== undefined) {
      checked.tls = { servername: options.serverHostname, ...checked.tls };
    }
    return connect(getRunningLoop(), checked, options, { path }, path);
  } catch (error) {
    return Promise.reject(error as Error);
  }
}
