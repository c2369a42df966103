/**
 * Streams benchmark (issue 6, "Performance"): TCP echo on loopback, 1 KiB messages, 50
 * connections each doing round trips (write 1 KiB, read the 1 KiB echo back) for a fixed time.
 * Server and client run in the same process, so every row pays for both ends:
 *
 * - `aiots`: `startServer` + `openConnection`, the handler echoing with `read`/`write`/`drain`,
 *   each client task `write`/`drain`/`readexactly(1024)`;
 * - `aiots-client/raw-server` and `raw-client/aiots-server`: one end aiots, the other raw, to
 *   tell the client's cost from the server's;
 * - `raw`: `node:net` with callbacks, the server `socket.on("data", d => socket.write(d))`, the
 *   client counting bytes in `on("data")`;
 * - `async/node:net`: `node:net` driven by hand-written async functions, no library: each end
 *   awaits a native promise that its `data` listener resolves, and awaits `drain` only when
 *   `write()` asks for it. The floor for any await-based stream API: what one suspension and
 *   resumption of an async function per message costs;
 * - `python-asyncio`: Python's asyncio streams doing the same (bench/peers/tcp_echo.py), when
 *   `python3` is on the PATH.
 *
 * Every subject sets `noDelay` (asyncio's default, and aiots's) and checks that each echo came
 * back whole.
 *
 *     npm run bench -- --filter tcp-echo
 *     node --expose-gc bench/streams.bench.ts tcp-echo aiots --runs 1
 *
 * @module
 */
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { fileURLToPath } from "node:url";
import {
  aiotsEntry,
  check,
  childMain,
  loadAiots,
  rate,
  type Sample,
  type Scenarios,
} from "./harness.ts";

const CONNECTIONS = 50;
const MESSAGE = 1024;
const DURATION_MS = 3000;
const HOST = "127.0.0.1";

type Streams = typeof import("../src/streams/index.ts");

/** `aiots/streams` next to the aiots entry the runner chose (sources, `--dist`, `--aiots`). */
function loadStreams(): Promise<Streams> {
  const entry = aiotsEntry();
  const ext = entry.endsWith(".js") ? "js" : "ts";
  return import(new URL(`./streams/index.${ext}`, entry).href) as Promise<Streams>;
}

// ---------------------------------------------------------------- raw node:net ends

/** A `node:net` echo server on loopback; `echo` serves each connection. */
async function netServer(
  echo: (socket: Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const net = await import("node:net");
  const sockets = new Set<Socket>();
  const server: NetServer = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    echo(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function rawServer(): Promise<{ port: number; close(): Promise<void> }> {
  return netServer((socket) => socket.on("data", (data) => socket.write(data)));
}

/** 50 raw clients doing round trips until the deadline; resolves with the round trips done. */
async function rawClients(port: number): Promise<number> {
  const net = await import("node:net");
  const message = Buffer.alloc(MESSAGE, 0x61);
  const deadline = performance.now() + DURATION_MS;
  const one = (): Promise<number> =>
    new Promise((resolve, reject) => {
      let done = 0;
      let received = 0;
      const socket = net.connect({ host: HOST, port, noDelay: true }, () => socket.write(message));
      socket.on("error", reject);
      socket.on("data", (data) => {
        received += data.length;
        if (received < MESSAGE) return;
        check("echoed bytes", received, MESSAGE);
        received = 0;
        done++;
        if (performance.now() < deadline) {
          socket.write(message);
        } else {
          socket.destroy();
          resolve(done);
        }
      });
    });
  const counts = await Promise.all(Array.from({ length: CONNECTIONS }, one));
  return counts.reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------- hand-written async ends

/**
 * The next chunk of `socket`, as a native promise. `data` listeners resolve it; at most one read
 * waits at a time (as one StreamReader waiter). Resolves empty at the end of the stream.
 */
function chunks(socket: Socket): () => Promise<Buffer> {
  const queue: Buffer[] = [];
  let waiting: ((chunk: Buffer) => void) | undefined;
  const push = (chunk: Buffer): void => {
    const resolve = waiting;
    waiting = undefined;
    if (resolve === undefined) queue.push(chunk);
    else resolve(chunk);
  };
  socket.on("data", push);
  socket.on("end", () => push(Buffer.alloc(0)));
  return () => {
    const chunk = queue.shift();
    if (chunk !== undefined) return Promise.resolve(chunk);
    return new Promise((resolve) => {
      waiting = resolve;
    });
  };
}

async function writeAll(socket: Socket, data: Buffer): Promise<void> {
  if (!socket.write(data)) await new Promise((resolve) => socket.once("drain", resolve));
}

function asyncServer(): Promise<{ port: number; close(): Promise<void> }> {
  return netServer((socket) => {
    const next = chunks(socket);
    void (async () => {
      for (;;) {
        const data = await next();
        if (data.length === 0) break;
        await writeAll(socket, data);
      }
      socket.end();
    })();
  });
}

async function asyncClients(port: number): Promise<number> {
  const net = await import("node:net");
  const message = Buffer.alloc(MESSAGE, 0x61);
  const deadline = performance.now() + DURATION_MS;
  const one = async (): Promise<number> => {
    const socket = net.connect({ host: HOST, port, noDelay: true });
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const next = chunks(socket);
    let done = 0;
    while (performance.now() < deadline) {
      await writeAll(socket, message);
      let received = 0;
      while (received < MESSAGE) received += (await next()).length;
      check("echoed bytes", received, MESSAGE);
      done++;
    }
    socket.destroy();
    return done;
  };
  const counts = await Promise.all(Array.from({ length: CONNECTIONS }, one));
  return counts.reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------- Python asyncio

async function pythonAsyncio(): Promise<Sample> {
  const { execFile } = await import("node:child_process");
  const script = new URL("./peers/tcp_echo.py", import.meta.url);
  const args = [fileURLToPath(script), String(CONNECTIONS), String(MESSAGE), String(DURATION_MS)];
  const { promisify } = await import("node:util");
  const { stdout } = await promisify(execFile)("python3", args, { timeout: DURATION_MS + 30_000 });
  const { n, seconds } = JSON.parse(stdout) as { n: number; seconds: number };
  return { value: n / seconds, n };
}

// ---------------------------------------------------------------- aiots ends

async function aiotsServer(streams: Streams): Promise<{ port: number; close(): Promise<void> }> {
  const server = await streams.startServer(
    async (reader, writer) => {
      for (;;) {
        const data = await reader.read(65_536);
        if (data.length === 0) break;
        writer.write(data);
        await writer.drain();
      }
      writer.close();
    },
    HOST,
    0,
  );
  const address = server.sockets[0]?.address() as AddressInfo;
  const { port } = address;
  return {
    port,
    close: async () => {
      server.close();
      server.abortClients();
      await server.waitClosed();
    },
  };
}

async function aiotsClients(streams: Streams, port: number): Promise<number> {
  const { gather } = await loadAiots();
  const message = Buffer.alloc(MESSAGE, 0x61);
  const deadline = performance.now() + DURATION_MS;
  const one = async (): Promise<number> => {
    const [reader, writer] = await streams.openConnection(HOST, port);
    let done = 0;
    while (performance.now() < deadline) {
      writer.write(message);
      await writer.drain();
      const echo = await reader.readexactly(MESSAGE);
      check("echoed bytes", echo.length, MESSAGE);
      done++;
    }
    writer.abort();
    return done;
  };
  const counts = await gather(Array.from({ length: CONNECTIONS }, () => one));
  return counts.reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------- io-wake
//
// The cost of one wake-up from I/O, without the kernel: a `setImmediate` (an event from Node's
// loop, as a socket's data is) hands a 1 KiB chunk to the reader, the reading code takes it and
// asks for the next event.

const WAKE_N = 200_000;

async function ioWakeAiots(): Promise<Sample> {
  const { run } = await loadAiots();
  const { StreamReader } = await loadStreams();
  const chunk = Buffer.alloc(MESSAGE, 0x61);
  return run(async () => {
    const reader = new StreamReader();
    // What a socket's data event calls (the transport's entry point: the chunk is not copied).
    const feed = (): void => reader._feedOwned(chunk);
    const start = performance.now();
    setImmediate(feed);
    for (let i = 0; i < WAKE_N; i++) {
      const data = await reader.readexactly(MESSAGE);
      check("bytes", data.length, MESSAGE);
      if (i + 1 < WAKE_N) setImmediate(feed);
    }
    return rate(WAKE_N, start, performance.now());
  });
}

async function ioWakeAsync(): Promise<Sample> {
  const chunk = Buffer.alloc(MESSAGE, 0x61);
  let waiting: ((data: Buffer) => void) | undefined;
  const feed = (): void => {
    const resolve = waiting;
    waiting = undefined;
    resolve?.(chunk);
  };
  const start = performance.now();
  setImmediate(feed);
  for (let i = 0; i < WAKE_N; i++) {
    const data = await new Promise<Buffer>((resolve) => {
      waiting = resolve;
    });
    check("bytes", data.length, MESSAGE);
    if (i + 1 < WAKE_N) setImmediate(feed);
  }
  return rate(WAKE_N, start, performance.now());
}

function ioWakeRaw(): Promise<Sample> {
  const chunk = Buffer.alloc(MESSAGE, 0x61);
  const start = performance.now();
  return new Promise((resolve) => {
    let i = 0;
    const onData = (data: Buffer): void => {
      check("bytes", data.length, MESSAGE);
      if (++i < WAKE_N) setImmediate(onData, chunk);
      else resolve(rate(WAKE_N, start, performance.now()));
    };
    setImmediate(onData, chunk);
  });
}

// ---------------------------------------------------------------- subjects

type End = "aiots" | "raw" | "async";

function subject(server: End, client: End): () => Promise<Sample> {
  return async () => {
    const { run } = await loadAiots();
    const streams = await loadStreams();
    return run(
      async () => {
        const srv =
          server === "aiots"
            ? await aiotsServer(streams)
            : server === "async"
              ? await asyncServer()
              : await rawServer();
        const start = performance.now();
        const n =
          client === "aiots"
            ? await aiotsClients(streams, srv.port)
            : client === "async"
              ? await asyncClients(srv.port)
              : await rawClients(srv.port);
        const end = performance.now();
        await srv.close();
        if (n < CONNECTIONS) throw new Error(`only ${n} round trips: the subject is broken`);
        return { value: (n * 1000) / (end - start), n };
      },
      { handleSignals: false },
    );
  };
}

export const scenarios: Scenarios = {
  "io-wake": {
    description: `${WAKE_N / 1000}k wake-ups of a reading task by an event of Node's loop (a setImmediate hands over 1 KiB)`,
    unit: "wake-ups/s",
    better: "higher",
    baseline: "aiots",
    subjects: {
      aiots: ioWakeAiots,
      "async/promise": ioWakeAsync,
      "raw/callback": ioWakeRaw,
    },
  },
  "tcp-echo": {
    description: `TCP echo on loopback: ${CONNECTIONS} connections, ${MESSAGE} B messages, ${DURATION_MS / 1000} s of round trips`,
    unit: "messages/s",
    better: "higher",
    baseline: "aiots",
    // Loopback throughput swings with the machine's load: five rounds of every subject, so that
    // the rows' medians come from the same stretch of time.
    runs: 5,
    warmup: 1,
    interleave: true,
    subjects: {
      aiots: subject("aiots", "aiots"),
      "aiots-client/raw-server": subject("raw", "aiots"),
      "raw-client/aiots-server": subject("aiots", "raw"),
      raw: subject("raw", "raw"),
      "async/node:net": subject("async", "async"),
      "python-asyncio": pythonAsyncio,
    },
  },
};

await childMain(import.meta.url, scenarios);
