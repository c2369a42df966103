/**
 * sleep(0) must let Node's timers and I/O run, as asyncio polls its selector every iteration:
 * a task spinning on sleep(0) never starves a timer or a socket. These tests use the real clock
 * (they are about liveness, not timing) and every loop is bounded.
 */
import { once } from "node:events";
import { createConnection, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { run, sleep } from "../../src/index.ts";

const MAX_SPINS = 5_000_000;

describe("sleep(0) fairness", () => {
  it("a task spinning on sleep(0) does not starve a Node timer", async () => {
    const spins = await run(
      async () => {
        let fired = false;
        const timer = setTimeout(() => {
          fired = true;
        }, 5);
        let n = 0;
        while (!fired && n < MAX_SPINS) {
          n++;
          await sleep(0);
        }
        clearTimeout(timer);
        expect(fired).toBe(true);
        return n;
      },
      { handleSignals: false },
    );
    expect(spins).toBeGreaterThan(0);
    expect(spins).toBeLessThan(MAX_SPINS);
  });

  it("a task spinning on sleep(0) does not starve a loopback socket", async () => {
    const server = createServer((socket: Socket) => {
      socket.end("ping");
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as { port: number };
    try {
      const received = await run(
        async () => {
          let data = "";
          let ended = false;
          const client = createConnection({ host: "127.0.0.1", port });
          client.setEncoding("utf8");
          client.on("data", (chunk: string) => {
            data += chunk;
          });
          client.on("end", () => {
            ended = true;
          });
          let n = 0;
          while (!ended && n < MAX_SPINS) {
            n++;
            await sleep(0);
          }
          client.destroy();
          return data;
        },
        { handleSignals: false },
      );
      expect(received).toBe("ping");
    } finally {
      server.close();
    }
  });
});
