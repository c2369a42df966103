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
 *   client counting bytes in `on("data")`.
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
import { aiotsEntry, check, childMain, loadAiots, type Sample, type Scenarios } from "./harness.ts";

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

async function rawServer(): Promise<{ port: number; close(): Promise<void> }> {
  const net = await import("node:net");
  const sockets = new Set<Socket>();
  const server: NetServer = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.on("data", (data) => socket.write(data));
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
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

// ---------------------------------------------------------------- subjects

type End = "aiots" | "raw";

function subject(server: End, client: End): () => Promise<Sample> {
  return async () => {
    const { run } = await loadAiots();
    const streams = await loadStreams();
    return run(
      async () => {
        const srv = server === "aiots" ? await aiotsServer(streams) : await rawServer();
        const start = performance.now();
        const n =
          client === "aiots" ? await aiotsClients(streams, srv.port) : await rawClients(srv.port);
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
  "tcp-echo": {
    description: `TCP echo on loopback: ${CONNECTIONS} connections, ${MESSAGE} B messages, ${DURATION_MS / 1000} s of round trips`,
    unit: "messages/s",
    better: "higher",
    baseline: "aiots",
    runs: 3,
    warmup: 1,
    subjects: {
      aiots: subject("aiots", "aiots"),
      "aiots-client/raw-server": subject("raw", "aiots"),
      "raw-client/aiots-server": subject("aiots", "raw"),
      raw: subject("raw", "raw"),
    },
  },
};

await childMain(import.meta.url, scenarios);
