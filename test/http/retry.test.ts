/**
 * Retries (5xx, 429 with Retry-After, connection resets), the backoff, and the per-host rate
 * limit, against loopback servers; the pure helpers on their own.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  backoffDelay,
  ClientSession,
  parseRetryAfter,
  RateLimiter,
  ServerDisconnected,
} from "../../src/http/index.ts";
import { getRunningLoop, run, taskGroup } from "../../src/index.ts";
import { type Loopback, serve } from "../helpers/loopback.ts";
import { vrun } from "../helpers/run.ts";

const arun = <T>(main: () => Promise<T>): Promise<T> => run(main, { handleSignals: false });

let servers: Loopback[] = [];
async function server(handler: Parameters<typeof serve>[0]): Promise<Loopback> {
  const s = await serve(handler);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** Answers the first `failures` requests with `fail`, then 200 "ok"; records arrival times. */
async function flaky(failures: number, fail: (res: import("node:http").ServerResponse) => void) {
  const times: number[] = [];
  const s = await server((_req, res) => {
    times.push(performance.now());
    if (times.length <= failures) fail(res);
    else res.end("ok");
  });
  return { s, times };
}

const quick = { base: 1, max: 5 };

describe("retries", () => {
  it("retries a GET after 5xx, with backoff, and returns the success", async () => {
    const { s, times } = await flaky(2, (res) => res.writeHead(503).end("busy"));
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, backoff: quick });
      const response = await session.get("/");
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("ok");
      expect(times).toHaveLength(3);
    });
  });

  it("gives the last response back when the retries run out; POST is never retried", async () => {
    const { s, times } = await flaky(10, (res) => res.writeHead(500).end("down"));
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, retries: 1, backoff: quick });
      const response = await session.get("/");
      expect(response.status).toBe(500);
      expect(await response.text()).toBe("down");
      expect(times).toHaveLength(2);
      const posted = await session.post("/", { body: "x" });
      expect(posted.status).toBe(500);
      posted.release();
      expect(times).toHaveLength(3);
    });
  });

  it("honours Retry-After in seconds on a 429", async () => {
    const { s, times } = await flaky(1, (res) =>
      res.writeHead(429, { "retry-after": "1" }).end("slow down"),
    );
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, backoff: quick });
      const response = await session.get("/");
      expect(response.status).toBe(200);
      const waited = (times[1] as number) - (times[0] as number);
      expect(waited).toBeGreaterThanOrEqual(990);
      expect(waited).toBeLessThan(1800);
      response.release();
    });
  });

  it("caps a long Retry-After (an HTTP-date an hour away) at backoff.maxRetryAfter", async () => {
    const later = new Date(Date.now() + 3_600_000).toUTCString();
    const { s, times } = await flaky(1, (res) =>
      res.writeHead(503, { "retry-after": later }).end(),
    );
    await arun(async () => {
      await using session = new ClientSession({
        baseUrl: s.origin,
        backoff: { ...quick, maxRetryAfter: 150 },
      });
      const response = await session.get("/");
      expect(response.status).toBe(200);
      const waited = (times[1] as number) - (times[0] as number);
      expect(waited).toBeGreaterThanOrEqual(140);
      expect(waited).toBeLessThan(900);
      response.release();
    });
  });

  it("does not retry when the wait would pass the total timeout", async () => {
    const { s, times } = await flaky(1, (res) => res.writeHead(503, { "retry-after": "5" }).end());
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, timeout: { total: 1000 } });
      const response = await session.get("/");
      expect(response.status).toBe(503);
      expect(times).toHaveLength(1);
      response.release();
    });
  });

  it("retries after a connection reset; gives ServerDisconnected when they keep coming", async () => {
    const { s, times } = await flaky(1, (res) => res.socket?.destroy());
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, backoff: quick });
      expect(await (await session.get("/")).text()).toBe("ok");
      expect(times).toHaveLength(2);
    });
    const always = await server((_req, res) => res.socket?.destroy());
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: always.origin, backoff: quick });
      const error = await session.get("/").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServerDisconnected);
      expect(always.log).toHaveLength(3);
    });
  });

  it("retryOn chooses the statuses", async () => {
    const { s, times } = await flaky(1, (res) => res.writeHead(418).end());
    await arun(async () => {
      await using session = new ClientSession({
        baseUrl: s.origin,
        retryOn: [418],
        backoff: quick,
      });
      expect((await session.get("/")).status).toBe(200);
      expect(times).toHaveLength(2);
    });
  });
});

describe("backoff and Retry-After parsing", () => {
  it("full jitter: uniform in [0, min(max, base * 2^attempt))", () => {
    expect(backoffDelay(0, 100, 10_000, () => 0.5)).toBe(50);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).toBe(400);
    expect(backoffDelay(20, 100, 10_000, () => 0.999)).toBeCloseTo(9990);
    expect(backoffDelay(5, 100, 10_000, () => 0)).toBe(0);
  });

  it("reads delay-seconds and HTTP-dates", () => {
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(["7", "8"], now)).toBe(7000);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-5", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe("rate limit", () => {
  it("RateLimiter spaces acquisitions 1000/perSecond ms apart after the burst (virtual clock)", async () => {
    await vrun(async () => {
      const limiter = new RateLimiter(10, 2);
      const loop = getRunningLoop();
      const times: number[] = [];
      await taskGroup(async (tg) => {
        for (let i = 0; i < 6; i++) {
          tg.createTask(async () => {
            await limiter.acquire();
            times.push(loop.time());
          });
        }
      });
      expect(times).toEqual([0, 0, 100, 200, 300, 400]);
    });
    expect(() => new RateLimiter(0)).toThrow(RangeError);
  });

  it("rateLimit: 20 requests at 50/s to one host take about 380 ms", async () => {
    const times: number[] = [];
    const s = await server((_req, res) => {
      times.push(performance.now());
      res.end("ok");
    });
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, rateLimit: 50 });
      await taskGroup(async (tg) => {
        for (let i = 0; i < 20; i++) tg.createTask(async () => (await session.get("/")).text());
      });
    });
    const span = (times.at(-1) as number) - (times[0] as number);
    expect(span).toBeGreaterThanOrEqual(19 * 20 - 15);
    expect(span).toBeLessThan(1500);
  });
});
