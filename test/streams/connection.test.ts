/**
 * Client connections on real loopback sockets: asyncio's STR cases that need a network, and
 * misbehaving peers (a raw `node:net` server) — one that closes mid-line, one that never sends a
 * newline, one that never reads, one that resets — plus cancellation and timeouts around every
 * wait. Every loop here is bounded in count and time.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  getRunningLoop,
  IncompleteReadError,
  LimitOverrunError,
  RuntimeError,
  sleep,
  TimeoutError,
  timeout,
} from "../../src/index.ts";
import {
  openConnection,
  openUnixConnection,
  type StreamReader,
  type StreamWriter,
  startServer,
  startUnixServer,
} from "../../src/streams/index.ts";
import { codeOf, HOST, portOf, rawServer, rrun, until } from "../helpers/net.ts";
import { errorOf } from "../helpers/sync.ts";

function text(data: Uint8Array): string {
  return Buffer.from(data).toString();
}

const KIB = 1024;

describe("streams: asyncio cases on loopback", () => {
  it("STR-11: start_server echo of one line; also with a plain-function handler; close + waitClosed", async () => {
    const log: unknown[] = [];
    await rrun(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => log.push(context));
      async function handle(reader: StreamReader, writer: StreamWriter): Promise<void> {
        const line = await reader.readline();
        writer.write(line);
        await writer.drain();
        writer.close();
        await writer.waitClosed();
      }
      const handlers = [
        handle,
        (r: StreamReader, w: StreamWriter) => void createTask(() => handle(r, w)),
      ];
      for (const handler of handlers) {
        const server = await startServer(handler, HOST, 0);
        const [reader, writer] = await openConnection(HOST, portOf(server));
        writer.write("hello world!\n");
        expect(text(await reader.readline())).toBe("hello world!\n");
        writer.close();
        await writer.waitClosed();
        server.close();
        await timeout(5000, () => server.waitClosed());
      }
    });
    expect(log).toEqual([]);
  });

  it("STR-13: write + drain to a peer that closed ends with a connection error, not a loop", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.destroy());
      const [, writer] = await openConnection(HOST, peer.port);
      const chunk = Buffer.alloc(64 * KIB);
      let error: unknown;
      for (let i = 0; i < 2000 && error === undefined; i++) {
        try {
          writer.write(chunk);
          await writer.drain();
        } catch (e) {
          error = e;
        }
        if (i > 10) await sleep(1);
      }
      expect(["ECONNRESET", "EPIPE", "ECONNABORTED"]).toContain(codeOf(error));
      await peer.close();
    });
  });

  it("STR-13: after close(), write() + drain() throws ECONNRESET 'Connection lost'", async () => {
    await rrun(async () => {
      const peer = await rawServer();
      const [, writer] = await openConnection(HOST, peer.port);
      writer.close();
      writer.write("dropped");
      const error = await errorOf(writer.drain());
      expect(codeOf(error)).toBe("ECONNRESET");
      expect((error as Error).message).toBe("Connection lost");
      await peer.close();
    });
  });

  it("STR-14: isClosing() flips on close(); waitClosed() completes, with unread data too; then atEof()", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) =>
        socket.on("data", () => socket.write("reply\nmore")),
      );
      const [reader, writer] = await openConnection(HOST, peer.port);
      expect(writer.isClosing()).toBe(false);
      writer.write("request\n");
      expect(text(await reader.readline())).toBe("reply\n");
      writer.close();
      expect(writer.isClosing()).toBe(true);
      await timeout(5000, () => writer.waitClosed());
      await until(() => peer.open() === 0, 5000, "the peer to see the close");

      const [reader2, writer2] = await openConnection(HOST, peer.port);
      writer2.close();
      await writer2.waitClosed();
      expect(reader2.atEof()).toBe(true);
      expect(text(await reader2.read())).toBe("");
      await peer.close();
    });
  });
});

describe("streams: misbehaving peers", () => {
  it("a peer that closes mid-line: readline returns the partial line", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.end("no newline here"));
      const [reader, writer] = await openConnection(HOST, peer.port);
      expect(text(await reader.readline())).toBe("no newline here");
      expect(text(await reader.readline())).toBe("");
      expect(reader.atEof()).toBe(true);
      writer.close();
      await peer.close();
    });
  });

  it("a peer that closes mid-line: readuntil and readexactly throw IncompleteReadError with the partial data", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.end("no newline here"));
      for (const [op, expected] of [
        ["readuntil", null],
        ["readexactly", 100],
      ] as const) {
        const [reader, writer] = await openConnection(HOST, peer.port);
        const error = await errorOf(
          op === "readuntil" ? reader.readuntil("\n") : reader.readexactly(100),
        );
        expect(error).toBeInstanceOf(IncompleteReadError);
        expect(text((error as IncompleteReadError).partial)).toBe("no newline here");
        expect((error as IncompleteReadError).expected).toBe(expected);
        expect(reader.atEof()).toBe(true);
        writer.close();
      }
      await peer.close();
    });
  });

  it("a peer that sends past the limit without a newline: LimitOverrunError / RangeError, without waiting for EOF", async () => {
    await rrun(async () => {
      // 300 KiB of 'x', and the connection stays open.
      const peer = await rawServer((socket) => socket.write(Buffer.alloc(300 * KIB, 0x78)));
      const [reader, writer] = await openConnection(HOST, peer.port, { limit: 64 * KIB });
      const error = await errorOf(timeout(5000, () => reader.readuntil("\n")));
      expect(error).toBeInstanceOf(LimitOverrunError);
      expect((error as LimitOverrunError).consumed).toBeGreaterThan(64 * KIB);
      // The data stays in the buffer, which flow control keeps near 2 * limit.
      const kept = reader.statistics().bufferedBytes;
      expect(kept).toBeGreaterThan(64 * KIB);
      expect(kept).toBeLessThanOrEqual(2 * 64 * KIB + 64 * KIB);
      const lineError = await errorOf(timeout(5000, () => reader.readline()));
      expect(lineError).toBeInstanceOf(RangeError);
      expect((lineError as Error).cause).toBeInstanceOf(LimitOverrunError);
      writer.close();
      await peer.close();
    });
  });

  it("a peer that never reads: drain() blocks, and the writer's buffer stays bounded", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.pause());
      const [, writer] = await openConnection(HOST, peer.port);
      const chunk = Buffer.alloc(64 * KIB, 1);
      const highWaterMark = writer.transport.writableHighWaterMark;
      let written = 0;
      let maxBuffered = 0;
      const pump = createTask(async () => {
        for (let i = 0; i < 100_000; i++) {
          writer.write(chunk);
          written += chunk.length;
          maxBuffered = Math.max(maxBuffered, writer.writeBufferSize);
          await writer.drain();
        }
      });
      // Wait until the writer is stuck: no progress for 200 ms.
      let last = -1;
      for (let i = 0; i < 100 && written !== last; i++) {
        last = written;
        await sleep(200);
      }
      expect(written).toBe(last);
      expect(pump.done()).toBe(false);
      // The kernel's buffers took a few MB at most; the writer held one high-water mark.
      expect(written).toBeLessThan(64 * 1024 * KIB);
      expect(maxBuffered).toBeLessThanOrEqual(highWaterMark + chunk.length);
      pump.cancel();
      expect(await errorOf(pump)).toBeInstanceOf(CancelledError);
      // abortOnCancel: the cancelled drain() aborted the connection.
      expect(writer.isClosing()).toBe(true);
      peer.resume();
      await until(() => peer.open() === 0, 5000, "the peer to see the abort");
      await peer.close();
    });
  });

  it("a peer that sends faster than we read: reading pauses, memory stays bounded, nothing is lost", async () => {
    const total = 16 * 1024 * KIB;
    let sent = 0;
    await rrun(async () => {
      const peer = await rawServer((socket) => {
        const chunk = Buffer.alloc(64 * KIB, 7);
        const pump = (): void => {
          while (sent < total) {
            sent += chunk.length;
            if (!socket.write(chunk)) {
              socket.once("drain", pump);
              return;
            }
          }
          socket.end();
        };
        pump();
      });
      const limit = 64 * KIB;
      const [reader, writer] = await openConnection(HOST, peer.port, { limit });
      await until(() => reader.statistics().paused, 5000, "reading to pause");
      await sleep(100);
      const stats = reader.statistics();
      expect(stats.paused).toBe(true);
      expect(stats.bufferedBytes).toBeLessThanOrEqual(2 * limit + 64 * KIB);
      // The peer is held back too.
      expect(sent).toBeLessThan(total);
      let received = 0;
      for (let i = 0; i < 100_000; i++) {
        const data = await reader.read(limit);
        if (data.length === 0) break;
        received += data.length;
        expect(reader.statistics().bufferedBytes).toBeLessThanOrEqual(2 * limit + 64 * KIB);
      }
      expect(received).toBe(total);
      writer.close();
      await peer.close();
    });
  });

  it("a peer that resets: the pending read, drain and waitClosed fail with ECONNRESET", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.once("data", () => socket.resetAndDestroy()));
      const [reader, writer] = await openConnection(HOST, peer.port);
      const line = createTask(() => reader.readline());
      writer.write("trigger\n");
      const error = await errorOf(timeout(5000, () => line));
      expect(codeOf(error)).toBe("ECONNRESET");
      expect(reader.exception()).toBe(error);
      expect(await errorOf(writer.drain())).toBe(error);
      expect(await errorOf(writer.waitClosed())).toBe(error);
      await peer.close();
    });
  });
});

describe("streams: cancellation and timeouts leave no socket open", () => {
  it("a connect cancelled by timeout() destroys its socket", async () => {
    await rrun(async () => {
      const peer = await rawServer();
      for (let i = 0; i < 5; i++) {
        const error = await errorOf(timeout(0, () => openConnection(HOST, peer.port)));
        expect(error).toBeInstanceOf(TimeoutError);
      }
      await sleep(50);
      await until(() => peer.open() === 0, 5000, "no connection left open");
      await peer.close();
    });
  });

  it("a read that times out aborts the connection (abortOnCancel, the default)", async () => {
    await rrun(async () => {
      const peer = await rawServer();
      const [reader, writer] = await openConnection(HOST, peer.port);
      await until(() => peer.open() === 1, 5000, "the connection");
      expect(await errorOf(timeout(50, () => reader.readline()))).toBeInstanceOf(TimeoutError);
      expect(writer.isClosing()).toBe(true);
      expect(reader.statistics().taskWaiting).toBe(false);
      peer.resume();
      await until(() => peer.open() === 0, 5000, "the peer to see the abort");
      expect(text(await reader.read())).toBe("");
      await peer.close();
    });
  });

  it("with abortOnCancel: false, a read that times out leaves the connection usable (asyncio)", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.on("data", (d) => socket.write(d)));
      const [reader, writer] = await openConnection(HOST, peer.port, { abortOnCancel: false });
      expect(await errorOf(timeout(50, () => reader.readline()))).toBeInstanceOf(TimeoutError);
      expect(writer.isClosing()).toBe(false);
      writer.write("still here\n");
      expect(text(await reader.readline())).toBe("still here\n");
      writer.close();
      await writer.waitClosed();
      await until(() => peer.open() === 0, 5000, "the close");
      await peer.close();
    });
  });

  it("a drain that times out (peer not reading) aborts the connection", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.pause());
      const [, writer] = await openConnection(HOST, peer.port);
      const chunk = Buffer.alloc(256 * KIB);
      const error = await errorOf(
        timeout(300, async () => {
          for (let i = 0; i < 10_000; i++) {
            writer.write(chunk);
            await writer.drain();
          }
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(writer.isClosing()).toBe(true);
      peer.resume();
      await until(() => peer.open() === 0, 5000, "the peer to see the abort");
      await peer.close();
    });
  });

  it("a waitClosed that times out (unflushed data) aborts the connection", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.pause());
      const [, writer] = await openConnection(HOST, peer.port);
      // More than the kernel buffers hold, so close() cannot finish flushing.
      for (let i = 0; i < 64; i++) writer.write(Buffer.alloc(256 * KIB));
      writer.close();
      expect(await errorOf(timeout(200, () => writer.waitClosed()))).toBeInstanceOf(TimeoutError);
      peer.resume();
      await until(() => peer.open() === 0, 5000, "the peer to see the abort");
      await peer.close();
    });
  });

  it("a task cancelled while connecting, reading or draining leaves no socket behind", async () => {
    await rrun(async () => {
      const peer = await rawServer((socket) => socket.pause());
      const tasks = [
        createTask(() => openConnection(HOST, peer.port)),
        createTask(async () => {
          const [reader] = await openConnection(HOST, peer.port);
          await reader.read(1);
        }),
        createTask(async () => {
          const [, writer] = await openConnection(HOST, peer.port);
          for (let i = 0; i < 10_000; i++) {
            writer.write(Buffer.alloc(256 * KIB));
            await writer.drain();
          }
        }),
      ];
      tasks[0]?.cancel();
      await until(() => peer.accepted.length >= 2, 5000, "two connections");
      await sleep(100);
      for (const task of tasks) task.cancel();
      for (const task of tasks) expect(await errorOf(task)).toBeInstanceOf(CancelledError);
      peer.resume();
      await until(() => peer.open() === 0, 5000, "every connection closed");
      await peer.close();
    });
  });

  it("an AbortSignal given to openConnection destroys the connection", async () => {
    await rrun(async () => {
      const peer = await rawServer();
      const controller = new AbortController();
      const [reader] = await openConnection(HOST, peer.port, { signal: controller.signal });
      const line = createTask(() => reader.readline());
      await sleep(10);
      controller.abort();
      expect((await errorOf(line)) as Error).toHaveProperty("name", "AbortError");
      await until(() => peer.open() === 0, 5000, "the abort");
      await peer.close();
    });
  });

  it("run() ending aborts the connections and closes the servers left open", async () => {
    let client: net.Socket | undefined;
    let port = 0;
    await rrun(async () => {
      const server = await startServer(async (reader) => reader.read(), HOST, 0);
      port = portOf(server);
      const [, writer] = await openConnection(HOST, port);
      client = writer.transport;
    });
    expect(client?.destroyed).toBe(true);
    const refused = await new Promise<unknown>((resolve) => {
      const probe = net.connect(port, HOST);
      probe.on("connect", () => {
        probe.destroy();
        resolve(undefined);
      });
      probe.on("error", resolve);
    });
    expect(codeOf(refused)).toBe("ECONNREFUSED");
  });
});

describe("streams: writer and connection details", () => {
  it("writeEof() half-closes: the peer reads EOF and can still answer", async () => {
    await rrun(async () => {
      const server = await startServer(
        async (reader, writer) => {
          const request = await reader.read();
          writer.write(`got ${request.length} bytes`);
          writer.close();
        },
        HOST,
        0,
      );
      const [reader, writer] = await openConnection(HOST, portOf(server));
      expect(writer.canWriteEof()).toBe(true);
      writer.writelines(["abc", Buffer.from("def")]);
      writer.writeEof();
      expect(() => writer.write("late")).toThrow(RuntimeError);
      expect(text(await reader.read())).toBe("got 6 bytes");
      writer.close();
      server.close();
      await server.waitClosed();
    });
  });

  it("getExtraInfo: peername, sockname, socket, and the fallback", async () => {
    await rrun(async () => {
      const peer = await rawServer();
      const [, writer] = await openConnection(HOST, peer.port);
      expect(writer.getExtraInfo("peername")).toEqual({
        address: HOST,
        family: "IPv4",
        port: peer.port,
      });
      expect(writer.getExtraInfo("sockname")).toMatchObject({ address: HOST, family: "IPv4" });
      expect(writer.getExtraInfo("socket")).toBe(writer.transport);
      expect(writer.getExtraInfo("sslcontext")).toBeUndefined();
      expect(writer.getExtraInfo("nonsense", 42)).toBe(42);
      expect(String(writer)).toContain(`127.0.0.1:${peer.port}`);
      writer.close();
      await peer.close();
    });
  });

  it("checks its arguments", async () => {
    await rrun(async () => {
      const bad = await errorOf(openConnection(HOST, 70_000));
      expect(bad).toBeInstanceOf(RangeError);
      expect((bad as Error).message).toContain('"port"');
      expect(await errorOf(openConnection(42 as unknown as string, 80))).toBeInstanceOf(TypeError);
      const limit = await errorOf(openConnection(HOST, 80, { limit: 0 }));
      expect((limit as Error).message).toContain('"limit"');
      const tls = await errorOf(openConnection(HOST, 80, { tls: "yes" as unknown as boolean }));
      expect((tls as Error).message).toContain('"tls"');
      const peer = await rawServer();
      const [, writer] = await openConnection(HOST, peer.port);
      expect(() => writer.write(5 as unknown as string)).toThrow(TypeError);
      expect(() => writer.writelines(5 as unknown as string[])).toThrow(TypeError);
      writer.close();
      await peer.close();
    });
  });

  it("a refused connection throws ECONNREFUSED (SRV-04)", async () => {
    await rrun(async () => {
      const peer = await rawServer();
      const { port } = peer;
      await peer.close();
      expect(codeOf(await errorOf(openConnection(HOST, port)))).toBe("ECONNREFUSED");
    });
  });
});

describe("streams: Unix sockets and TLS", () => {
  let dir = "";
  let key = "";
  let cert = "";
  let haveOpenssl = true;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "aiots-streams-"));
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-addext",
          "subjectAltName=DNS:localhost,IP:127.0.0.1",
          "-keyout",
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
        ],
        { stdio: "ignore", timeout: 20_000 },
      );
      key = readFileSync(join(dir, "key.pem"), "utf8");
      cert = readFileSync(join(dir, "cert.pem"), "utf8");
    } catch {
      haveOpenssl = false;
    }
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("a Unix socket echo: openUnixConnection and startUnixServer", async () => {
    const path = join(dir, "echo.sock");
    await rrun(async () => {
      const server = await startUnixServer(async (reader, writer) => {
        expect(writer.getExtraInfo("sockname")).toBe(path);
        for await (const line of reader) writer.write(line);
        writer.close();
      }, path);
      expect(server.sockets[0]?.address()).toBe(path);
      const [reader, writer] = await openUnixConnection(path);
      expect(writer.getExtraInfo("peername")).toBe(path);
      for (let i = 0; i < 3; i++) {
        writer.write(`line ${i}\n`);
        expect(text(await reader.readline())).toBe(`line ${i}\n`);
      }
      writer.close();
      await writer.waitClosed();
      server.close();
      await timeout(5000, () => server.waitClosed());
    });
  });

  it("a TLS echo with a self-signed certificate; TLS details in getExtraInfo", async (context) => {
    if (!haveOpenssl) {
      context.skip();
      return;
    }
    await rrun(async () => {
      const server = await startServer(
        async (reader, writer) => {
          writer.write(await reader.readline());
          writer.close();
        },
        HOST,
        0,
        { tls: { key, cert } },
      );
      const [reader, writer] = await openConnection(HOST, portOf(server), { tls: { ca: cert } });
      expect(writer.canWriteEof()).toBe(false);
      expect(() => writer.writeEof()).toThrow(RuntimeError);
      expect(writer.getExtraInfo("ssl_object")).toBe(writer.transport);
      expect(writer.getExtraInfo("cipher")).toHaveProperty("name");
      expect(writer.getExtraInfo("peercert")).toHaveProperty("subject");
      expect(writer.getExtraInfo("sslcontext")).toEqual({ ca: cert });
      writer.write("secret\n");
      expect(text(await reader.readline())).toBe("secret\n");
      writer.close();
      server.close();
      await timeout(5000, () => server.waitClosed());

      // An untrusted certificate fails the connect; nothing is left open.
      const untrusted = await startServer(async () => {}, HOST, 0, { tls: { key, cert } });
      const error = await errorOf(
        openConnection(HOST, portOf(untrusted), { tls: true, serverHostname: "localhost" }),
      );
      expect(codeOf(error)).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
      untrusted.close();
      await timeout(5000, () => untrusted.waitClosed());
    });
  });
});
