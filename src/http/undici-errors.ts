/**
 * Map the errors undici and the socket layer throw to the client's error classes.
 *
 * @internal
 * @module
 */
import {
  ClientError,
  ConnectError,
  ConnectTimeout,
  ReadTimeout,
  type RequestInfo,
  ServerDisconnected,
} from "./errors.ts";

/** Socket errors that mean the connection could not be made. */
const CONNECT_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "EADDRNOTAVAIL",
]);

/** Errors that mean an established connection broke. */
const DISCONNECT_CODES: ReadonlySet<string> = new Set([
  "UND_ERR_SOCKET",
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
]);

function codeOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = e.cause;
  }
  return undefined;
}

/**
 * The client error that `error` stands for (`ClientError` itself for anything unknown).
 * `inBody`: the error broke a body read, after the headers had arrived.
 */
export function toClientError(error: unknown, request: RequestInfo, inBody: boolean): Error {
  if (error instanceof ClientError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const where = `${request.method} ${request.url}`;
  const code = codeOf(error);
  const options = { cause: error, request };
  if (code === "UND_ERR_CONNECT_TIMEOUT") {
    return new ConnectTimeout(`${where}: connect timeout (${message})`, options);
  }
  if (code !== undefined && CONNECT_CODES.has(code)) {
    return new ConnectError(`${where}: cannot connect (${code}: ${message})`, options);
  }
  if (code !== undefined && DISCONNECT_CODES.has(code)) {
    const phase = inBody ? "while reading the body" : "before the response";
    return new ServerDisconnected(`${where}: connection lost ${phase} (${message})`, options);
  }
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
    return new ReadTimeout(`${where}: ${message}`, options);
  }
  return new ClientError(`${where}: ${message}`, options);
}
