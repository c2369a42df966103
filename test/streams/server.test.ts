/**
 * Servers on real loopback sockets: asyncio's SRV cases and STR-15, supervision of handler
 * tasks, graceful shutdown, Unix socket cleanup. Every loop here is bounded in count and time.
 */
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  currentTask,
  type ExceptionContext,
  getRunningLoop,
  RuntimeError,
  sleep,
  type Task,
  timeout,
} from "../../src/index.ts";
import {
  openConnection,
  type Server,
  type StreamReader,
  type StreamWriter,
  startServer,
  startUnixServer,
} from "../../src/streams/index.ts";
import { HOST, portOf, rrun, until } from "../helpers/net.ts";
import { ticks } from "../helpers/run.ts";
import { errorOf } from "../helpers/sync.ts";

function text(data: Uint8Array): string {
  return Buffer.from(data).toString();
}

/** A raw client: connect, send `data`, resolve with everything received until the server's EOF. */
function rawExchange(port: number, data: string, options: { end?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, HOST, () => {
      socket.write(data);
      if (options.end === true) socket.end();
    });
    let received = "";
    socket.on("data", (d) => {
      received += d.toString();
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(received));
  });
}

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "aiots-server-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("Server: asyncio cases", () => {
  it("SRV-01: startServing false; serveForever cancelled closes the server; then 'is closed'", async () => {
    await rrun(async () => {
      let main: Task<unknown> | undefined;
      const server = await startServer(
        async (reader, writer) => {
          await reader.readline();
          main?.cancel();
          writer.write("1");
          writer.close();
          await writer.waitClosed();
        },
        HOST,
        0,
        { startServing: false },
      );
      expect(server.isServing()).toBe(false);
      const port = portOf(server);
      main = createTask(async () => {
        try {
          await server.serveForever();
        } finally {
          await server[Symbol.asyncDispose]();
        }
      });
      // The client connects before serving starts: it waits in the backlog.
      const reply = rawExchange(port, `${"1".repeat(5 * 1024)}\n`);
      await ticks(2);
      expect(server.isServing()).toBe(true);
      expect(await errorOf(timeout(5000, () => main as Task<unknown>))).toBeInstanceOf(
        CancelledError,
      );
      expect(await reply).toBe("1");
      expect(server.sockets).toEqual([]);
      expect(server.isServing()).toBe(false);
      const closed = await errorOf(server.serveForever());
      expect(closed).toBeInstanceOf(RuntimeError);
      expect((closed as Error).message).toMatch(/is closed$/);
    });
  });

  it("SRV-01: a Unix server with startServing false starts on startServing()", async () => {
    await rrun(async () => {
      const path = join(dir, "srv01.sock");
      const server = await startUnixServer(async () => {}, path, { startServing: false });
      expect(server.isServing()).toBe(false);
      await server.startServing();
      expect(server.isServing()).toBe(true);
      await server.startServing();
      server.close();
      await server.waitClosed();
    });
  });

  it("SRV-02: waitClosed blocks while open, and after close() while a connection lives", async () => {
    await rrun(async () => {
      const server = await startServer(
        async (reader, writer) => {
          await reader.read();
          writer.close();
        },
        HOST,
        0,
      );
      const waiting = createTask(() => server.waitClosed());
      await sleep(20);
      expect(waiting.done()).toBe(false);
      const [, writer] = await openConnection(HOST, portOf(server));
      await sleep(20);
      server.close();
      await sleep(20);
      expect(waiting.done()).toBe(false);
      writer.close();
      await timeout(5000, () => waiting);
      // Later calls return at once.
      await server.waitClosed();

      const racing = await startServer(
        async (reader, writer) => {
          try {
            await reader.read();
          } finally {
            writer.close();
            await writer.waitClosed();
          }
        },
        HOST,
        0,
      );
      const [, w] = await openConnection(HOST, portOf(racing));
      await sleep(20);
      getRunningLoop().callSoon(() => racing.close());
      getRunningLoop().callSoon(() => w.close());
      await timeout(5000, () => racing.waitClosed());
    });
  });

  it("SRV-03: close() + closeClients() ends a pending waitClosed; abortClients() too, with a full buffer", async () => {
    const log: ExceptionContext[] = [];
    await rrun(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => log.push(context));
      for (const how of ["close", "abort"] as const) {
        const server = await startServer(
          async (_reader, writer) => {
            // Fill the write buffer towards a client that does not read.
            for (let i = 0; i < 1000; i++) {
              writer.write(Buffer.alloc(256 * 1024));
              await writer.drain();
            }
          },
          HOST,
          0,
        );
        const client = net.connect(portOf(server), HOST);
        client.on("error", () => {});
        client.pause();
        await sleep(100);
        const waiting = createTask(() => server.waitClosed());
        server.close();
        if (how === "close") {
          // A graceful close must flush first: let the client read.
          client.resume();
          server.closeClients();
        } else {
          server.abortClients();
        }
        await timeout(5000, () => waiting);
        client.destroy();
      }
    });
    // The handler blocked in drain() failed with the lost connection, and was reported.
    expect(log.map((c) => (c.exception as NodeJS.ErrnoException).code)).toEqual([
      "ECONNRESET",
      "ECONNRESET",
    ]);
  });

  it("SRV-03: a Unix server's socket file is removed on close, unless replaced or cleanupSocket is false", async () => {
    await rrun(async () => {
      const path = join(dir, "srv03.sock");
      let server = await startUnixServer(async () => {}, path);
      expect(statSync(path).isSocket()).toBe(true);
      server.close();
      expect(existsSync(path)).toBe(false);

      server = await startUnixServer(async () => {}, path);
      rmSync(path);
      writeFileSync(path, "not a socket");
      server.close();
      expect(existsSync(path)).toBe(true);
      expect(statSync(path).isSocket()).toBe(false);
      rmSync(path);

      server = await startUnixServer(async () => {}, path, { cleanupSocket: false });
      server.close();
      expect(statSync(path).isSocket()).toBe(true);

      // A stale socket file is replaced; a file already gone is no error.
      server = await startUnixServer(async () => {}, path);
      rmSync(path);
      server.close();
      expect(existsSync(path)).toBe(false);
      await server.waitClosed();
    });
  });

  it("SRV-04: a connect cancelled by timeout() leaves no connection at the server", async () => {
    await rrun(async () => {
      let handled = 0;
      const server = await startServer(
        async (reader) => {
          handled++;
          await reader.read();
        },
        HOST,
        0,
      );
      expect(await errorOf(timeout(0, () => openConnection(HOST, portOf(server))))).toHaveProperty(
        "name",
        "TimeoutError",
      );
      await sleep(50);
      server.close();
      // Whether or not the server accepted it, the connection is gone.
      await timeout(5000, () => server.waitClosed());
      expect(handled).toBeLessThanOrEqual(1);
    });
  });

  it("STR-15: a handler that throws is reported; one that closes and cancels itself is not", async () => {
    const log: ExceptionContext[] = [];
    await rrun(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => log.push(context));
      const failing = await startServer(
        async (reader) => {
          await reader.readline();
          throw new Error("handler failed");
        },
        HOST,
        0,
      );
      // The client sees its connection closed; the server keeps serving.
      expect(await rawExchange(portOf(failing), "one\n")).toBe("");
      expect(await rawExchange(portOf(failing), "two\n")).toBe("");
      expect(failing.isServing()).toBe(true);
      failing.close();
      await timeout(5000, () => failing.waitClosed());
      expect(log.map((c) => c.message)).toEqual([
        "Unhandled exception in client_connected_cb",
        "Unhandled exception in client_connected_cb",
      ]);
      expect(log[0]?.exception).toHaveProperty("message", "handler failed");

      log.length = 0;
      const cancelling = await startServer(
        async (reader, writer) => {
          await reader.readline();
          writer.close();
          currentTask()?.cancel();
          await sleep(1000);
        },
        HOST,
        0,
      );
      expect(await rawExchange(portOf(cancelling), "x\n")).toBe("");
      cancelling.close();
      await timeout(5000, () => cancelling.waitClosed());
    });
    expect(log).toEqual([]);
  });
});

describe("Server", () => {
  it("serveForever twice is a RuntimeError; close() ends serveForever with CancelledError", async () => {
    await rrun(async () => {
      const server = await startServer(async () => {}, HOST, 0);
      const forever = createTask(() => server.serveForever());
      await ticks(1);
      const twice = await errorOf(server.serveForever());
      expect((twice as Error).message).toContain("is already being awaited on serveForever()");
      server.close();
      expect(await errorOf(forever)).toBeInstanceOf(CancelledError);
    });
  });

  it("each connection runs in its own task: a slow handler does not hold up the others", async () => {
    await rrun(async () => {
      const server = await startServer(
        async (reader, writer) => {
          const line = text(await reader.readline());
          if (line.startsWith("slow")) await sleep(300);
          writer.write(line);
          writer.close();
        },
        HOST,
        0,
      );
      const port = portOf(server);
      const start = performance.now();
      const slow = rawExchange(port, "slow\n");
      const fast = await Promise.all(
        Array.from({ length: 10 }, (_, i) => rawExchange(port, `fast ${i}\n`)),
      );
      expect(performance.now() - start).toBeLessThan(300);
      expect(fast).toEqual(Array.from({ length: 10 }, (_, i) => `fast ${i}\n`));
      expect(await slow).toBe("slow\n");
      await server[Symbol.asyncDispose]();
    });
  });

  it("shutdown(): handlers finish within the deadline; late ones are cancelled and their connections aborted", async () => {
    await rrun(async () => {
      const finished: string[] = [];
      const cancelled: string[] = [];
      const server = await startServer(
        async (reader: StreamReader, writer: StreamWriter) => {
          const name = text(await reader.readline()).trim();
          try {
            await sleep(name === "quick" ? 50 : 60_000);
            writer.write("bye\n");
            finished.push(name);
          } catch (error) {
            cancelled.push(name);
            throw error;
          }
        },
        HOST,
        0,
      );
      const port = portOf(server);
      const quick = rawExchange(port, "quick\n");
      const stuck = rawExchange(port, "stuck\n");
      await until(() => cancelled.length + finished.length === 0 && true, 100);
      await sleep(20);
      const start = performance.now();
      await server.shutdown({ timeout: 300 });
      const took = performance.now() - start;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(3000);
      expect(finished).toEqual(["quick"]);
      expect(cancelled).toEqual(["stuck"]);
      expect(await quick).toBe("bye\n");
      expect(await stuck).toBe("");
      expect(server.sockets).toEqual([]);
      // Nothing waits any more.
      await server.waitClosed();
    });
  });

  it("shutdown() returns as soon as every handler is done and every connection closed", async () => {
    await rrun(async () => {
      const server = await startServer(
        async (reader, writer) => {
          writer.write(await reader.readline());
          writer.close();
        },
        HOST,
        0,
      );
      expect(await rawExchange(portOf(server), "ping\n")).toBe("ping\n");
      const start = performance.now();
      await server.shutdown({ timeout: 10_000 });
      expect(performance.now() - start).toBeLessThan(1000);
      const bad = await errorOf(server.shutdown({ timeout: Number.NaN }));
      expect(bad).toBeInstanceOf(RangeError);
    });
  });

  it("listens on each host of a list; sockets[i].address() is what node:net gives", async () => {
    await rrun(async () => {
      const server: Server = await startServer(async () => {}, [HOST, HOST], 0);
      expect(server.sockets).toHaveLength(2);
      for (const socket of server.sockets) {
        expect(socket.address()).toMatchObject({ address: HOST, family: "IPv4" });
      }
      expect(String(server)).toMatch(/^<Server sockets=\(127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\)>$/);
      await server[Symbol.asyncDispose]();
      expect(server.sockets).toEqual([]);
    });
  });

  it("a listen error is thrown and nothing is left listening", async () => {
    await rrun(async () => {
      const first = await startServer(async () => {}, HOST, 0);
      const error = await errorOf(startServer(async () => {}, HOST, portOf(first)));
      expect((error as NodeJS.ErrnoException).code).toBe("EADDRINUSE");
      first.close();
      await first.waitClosed();
    });
  });

  it("checks its arguments", async () => {
    await rrun(async () => {
      const handler = await errorOf(startServer("no" as unknown as () => void, HOST, 0));
      expect(handler).toBeInstanceOf(TypeError);
      expect((handler as Error).message).toContain('"handler"');
      const port = await errorOf(startServer(async () => {}, HOST, -1));
      expect(port).toBeInstanceOf(RangeError);
      const host = await errorOf(startServer(async () => {}, 5 as unknown as string, 0));
      expect((host as Error).message).toContain('"host"');
      const path = await errorOf(startUnixServer(async () => {}, ""));
      expect((path as Error).message).toContain('"path"');
    });
  });
});
