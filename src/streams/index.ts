/**
 * aiots/streams: TCP, TLS and Unix socket clients and servers as reader/writer pairs
 * (asyncio's streams), on `node:net` and `node:tls`. Every wait is a cancellation point, and by
 * default a cancelled wait aborts its connection, so a timeout never leaves a socket half-open.
 *
 * @module
 */
export { IncompleteReadError, LimitOverrunError } from "../errors.ts";
export {
  type ConnectionOptions,
  type OpenConnectionOptions,
  openConnection,
  openUnixConnection,
} from "./open-connection.ts";
export {
  type ConnectionHandler,
  Server,
  type ServerSocket,
  type ShutdownOptions,
} from "./server.ts";
export {
  type ServerOptions,
  type StartServerOptions,
  type StartUnixServerOptions,
  startServer,
  startUnixServer,
} from "./start-server.ts";
export {
  type BytesLike,
  DEFAULT_LIMIT,
  StreamReader,
  type StreamReaderOptions,
  type StreamReaderStatistics,
} from "./stream-reader.ts";
export { StreamWriter } from "./stream-writer.ts";
