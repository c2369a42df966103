/**
 * Helpers for the socket tests: a raw `node:net` peer on loopback that can misbehave, runs on
 * the real clock, and bounded polling.
 */
import net from "node:net";
import { type RunOptions, run, sleep } from "../../src/index.ts";

export const HOST = "127.0.0.1";

/** Run `main` on the real clock (socket tests need real I/O time). */
export function rrun<T>(main: () => Promise<T>, options: RunOptions = {}): Promise<T> {
  return run(main, { handleSignals: false, ...options });
}

/** Poll `condition` every 5 ms (real time) until it holds; throws after `ms`. */
export async function until(
  condition: () => boolean,
  ms = 5000,
  what = "condition",
): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A `node:net` server on loopback that counts its connections. */
export interface RawServer {
  readonly port: number;
  /** Every socket accepted, in order. */
  readonly accepted: net.Socket[];
  /** How many accepted sockets are not closed yet. */
  open(): number;
  /**
   * Let paused sockets read again (and drop what they read), so that they see the client's
   * FIN or reset and close: a socket that never reads never learns that the client is gone.
   */
  resume(): void;
  close(): Promise<void>;
}

/** Start a raw server; `onConnection` decides how it (mis)behaves. */
export function rawServer(
  onConnection: (socket: net.Socket) => void = () => {},
): Promise<RawServer> {
  const accepted: net.Socket[] = [];
  let open = 0;
  // Not half-open: once the client's FIN is read, the socket closes (and the count drops).
  const server = net.createServer((socket) => {
    accepted.push(socket);
    open++;
    socket.on("error", () => {});
    socket.on("close", () => open--);
    onConnection(socket);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      resolve({
        port,
        accepted,
        open: () => open,
        resume: () => {
          for (const socket of accepted) socket.resume();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of accepted) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** The port a `startServer` server listens on. */
export function portOf(server: { sockets: readonly { address(): unknown }[] }): number {
  const address = server.sockets[0]?.address() as net.AddressInfo;
  return address.port;
}

/** Node error code of `error`, if any. */
export function codeOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}
