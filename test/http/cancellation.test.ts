/**
 * ClientSession and aiots cancellation: total and read timeouts, timeout()/waitFor() around a
 * request, cancelling the task, and the pool still working afterwards. The server counts the
 * requests whose client went away, which is how the tests see that the work really stopped.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  ClientError,
  ClientSession,
  ConnectError,
  ConnectTimeout,
  ReadTimeout,
  RequestTimeout,
  ServerDisconnected,
} from "../../src/http/index.ts";
import { toClientError } from "../../src/http/undici-errors.ts";
import {
  createTask,
  isCancelled,
  run,
  sleep,
  TimeoutError,
  timeout,
  waitFor,
} from "../../src/index.ts";
import { type Loopback, serve, until } from "../helpers/loopback.ts";

const arun = <T>(main: () => Promise<T>): Promise<T> => run(main, { handleSignals: false });

let servers: Loopback[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** "/slow?ms=N" answers after N ms; "/drip" sends one byte, then stalls; else "ok" at once. */
async function slowServer(): Promise<Loopback> {
  const s = await serve((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/slow") {
      const timer = setTimeout(() => res.end("late"), Number(url.searchParams.get("ms")));
      res.on("close", () => clearTimeout(timer));
    } else if (url.pathname === "/drip") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("x");
      const timer = setTimeout(() => res.end("y"), 5000);
      res.on("close", () => clearTimeout(timer));
    } else {
      res.end("ok");
    }
  });
  servers.push(s);
  return s;
}

function elapsedSince(start: number): number {
  return performance.now() - start;
}

describe("timeouts", () => {
  it("timeout.total: RequestTimeout (an aiots TimeoutError) and the request is aborted", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, timeout: { total: 100 } });
      const start = performance.now();
      const error = await session.get("/slow?ms=5000").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RequestTimeout);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(isCancelled((error as Error).cause)).toBe(true);
      expect(elapsedSince(start)).toBeLessThan(1000);
      expect(await until(() => s.abandoned() === 1)).toBe(true);
      // The pool opens a new connection for the next request.
      expect(await (await session.get("/")).text()).toBe("ok");
    });
  });

  it("timeout.total covers reading the body too", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, timeout: { total: 150 } });
      const response = await session.get("/drip");
      const error = await response.text().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RequestTimeout);
      expect(await until(() => s.abandoned() === 1)).toBe(true);
    });
  });

  it("timeout.read: ReadTimeout for late headers (retried) and for a stalled body", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({
        baseUrl: s.origin,
        timeout: { read: 80 },
        retries: 1,
        backoff: { base: 1, max: 1 },
      });
      const error = await session.get("/slow?ms=5000").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReadTimeout);
      expect(s.log.filter((l) => l.startsWith("GET /slow"))).toHaveLength(2); // retried once
      const response = await session.get("/drip");
      const stalled = await response.text().catch((e: unknown) => e);
      expect(stalled).toBeInstanceOf(ReadTimeout);
      expect((stalled as Error).message).toContain("no body data for 80 ms");
    });
  });

  it("a per-request timeout overrides the session's", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, timeout: { total: 5000 } });
      const start = performance.now();
      await expect(session.get("/slow?ms=3000", { timeout: { total: 60 } })).rejects.toBeInstanceOf(
        RequestTimeout,
      );
      expect(elapsedSince(start)).toBeLessThan(1000);
      expect(await (await session.get("/slow?ms=10")).text()).toBe("late");
    });
  });
});

describe("cancellation", () => {
  it("aiots timeout() around a request stops it: the server sees the client go", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin });
      const error = await timeout(80, () => session.get("/slow?ms=5000")).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error).not.toBeInstanceOf(RequestTimeout);
      expect(await until(() => s.abandoned() === 1)).toBe(true);
      // waitFor() around the body read stops the read as well.
      const response = await session.get("/drip");
      await expect(waitFor(() => response.text(), 80)).rejects.toBeInstanceOf(TimeoutError);
      expect(await until(() => s.abandoned() === 2)).toBe(true);
      expect(await (await session.get("/")).text()).toBe("ok");
    });
  });

  it("cancelling the task aborts the request; the pool keeps working", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, limitPerHost: 1 });
      const task = createTask(() => session.get("/slow?ms=5000"));
      await sleep(50);
      task.cancel();
      const error = await task.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isCancelled(error)).toBe(true);
      expect(task.cancelled()).toBe(true);
      expect(await until(() => s.abandoned() === 1)).toBe(true);
      // The only connection slot is free again.
      expect(await (await session.get("/")).text()).toBe("ok");
    });
  });

  it("cancelling a task that reads a body another task received aborts that body", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin });
      const response = await session.get("/drip");
      const reader = createTask(() => response.text());
      await sleep(30);
      reader.cancel();
      await expect(reader).rejects.toSatisfy(isCancelled);
      expect(await until(() => s.abandoned() === 1)).toBe(true);
    });
  });

  it("a timeout that fires around other code does not break a response already received", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin });
      const response = await session.get("/slow?ms=1");
      await timeout(10, () => sleep(1000)).catch(() => undefined);
      expect(await response.text()).toBe("late");
    });
  });

  it("await using releases an unread response (its connection is closed)", async () => {
    const s = await slowServer();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, limit: 1 });
      {
        await using response = await session.get("/drip");
        expect(response.status).toBe(200);
      }
      expect(await until(() => s.abandoned() === 1)).toBe(true);
      expect(await (await session.get("/")).text()).toBe("ok");
    });
  });
});

describe("connection failures", () => {
  it("a refused connection is a ConnectError, after the retries", async () => {
    const s = await slowServer();
    const origin = s.origin;
    await s.close();
    servers = [];
    await arun(async () => {
      await using session = new ClientSession({ retries: 2, backoff: { base: 1, max: 5 } });
      const error = await session.get(`${origin}/`).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as Error).message).toContain("ECONNREFUSED");
    });
  });

  it("maps undici's and the socket's errors to the client's classes", () => {
    const request = { method: "GET", url: "http://127.0.0.1/" };
    const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect(toClientError(coded("UND_ERR_CONNECT_TIMEOUT"), request, false)).toBeInstanceOf(
      ConnectTimeout,
    );
    expect(toClientError(coded("ECONNREFUSED"), request, false)).toBeInstanceOf(ConnectError);
    expect(toClientError(coded("ENOTFOUND"), request, false)).toBeInstanceOf(ConnectError);
    const reset = new Error("other side closed", { cause: coded("ECONNRESET") });
    const mapped = toClientError(reset, request, true);
    expect(mapped).toBeInstanceOf(ServerDisconnected);
    expect(mapped.message).toContain("while reading the body");
    expect(toClientError(coded("UND_ERR_SOCKET"), request, false)).toBeInstanceOf(
      ServerDisconnected,
    );
    const other = toClientError(new Error("odd"), request, false);
    expect(other).toBeInstanceOf(ClientError);
    expect(other.constructor).toBe(ClientError);
    expect((other as ClientError).request).toEqual(request);
  });
});
