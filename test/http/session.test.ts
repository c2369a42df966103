/**
 * ClientSession against loopback servers: URLs and headers, bodies, raiseForStatus, redirects,
 * the body size cap, connection caps, closing.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  BodyTooLarge,
  ClientError,
  ClientSession,
  HttpError,
  InvalidUrl,
  TooManyRedirects,
} from "../../src/http/index.ts";
import { run, sleep, taskGroup } from "../../src/index.ts";
import { type Loopback, serve } from "../helpers/loopback.ts";

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

/** Echoes the request: method, url, headers and body, as JSON. */
function echo(): Promise<Loopback> {
  return server((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
  });
}

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

describe("ClientSession: requests and responses", () => {
  it("resolves URLs against baseUrl, adds query parameters, merges headers", async () => {
    const s = await echo();
    await arun(async () => {
      await using session = new ClientSession({
        baseUrl: `${s.origin}/api/`,
        headers: { "X-Token": "abc", Accept: "text/plain" },
      });
      await using response = await session.get("items?a=1#frag", {
        query: { b: 2, c: "x y" },
        headers: { accept: "application/json" },
      });
      expect(response.status).toBe(200);
      expect(response.ok).toBe(true);
      expect(response.url).toBe(`${s.origin}/api/items?a=1&b=2&c=x+y`);
      expect(response.contentType).toBe("application/json");
      const got = await response.json<Echo>();
      expect(got.url).toBe("/api/items?a=1&b=2&c=x+y");
      expect(got.headers["x-token"]).toBe("abc");
      expect(got.headers.accept).toBe("application/json");
      expect(got.headers["user-agent"]).toMatch(/^aiots-http\//);
    });
  });

  it("sends JSON and string bodies; reads text, bytes and chunks", async () => {
    const s = await echo();
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin });
      const posted = await (await session.post("/p", { json: { n: 1 } })).json<Echo>();
      expect(posted.method).toBe("POST");
      expect(posted.body).toBe('{"n":1}');
      expect(posted.headers["content-type"]).toBe("application/json");
      const text = await (await session.put("/t", { body: "hello" })).text();
      expect(JSON.parse(text).body).toBe("hello");
      const bytes = await (await session.get("/b")).bytes();
      expect(bytes).toBeInstanceOf(Uint8Array);
      const response = await session.get("/c");
      let size = 0;
      for await (const chunk of response) size += chunk.length;
      expect(size).toBeGreaterThan(50); // chunked: no content-length
      expect(response.bodyUsed).toBe(true);
      await expect(response.text()).rejects.toBeInstanceOf(ClientError);
    });
  });

  it("raiseForStatus: HttpError with the status, as an option or a method", async () => {
    const s = await server((_req, res) => {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("nope");
    });
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin });
      const response = await session.get("/missing");
      expect(response.status).toBe(404);
      expect(() => response.raiseForStatus()).toThrow(HttpError);
      const error = await session.get("/missing", { raiseForStatus: true }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(HttpError);
      expect(error).toBeInstanceOf(ClientError);
      expect((error as HttpError).status).toBe(404);
      expect((error as HttpError).name).toBe("HttpError");
      expect((error as HttpError).message).toContain(
        `HTTP 404 Not Found for GET ${s.origin}/missing`,
      );
    });
  });

  it("rejects URLs that are not http(s) with InvalidUrl", async () => {
    await arun(async () => {
      await using session = new ClientSession();
      await expect(session.get("relative/path")).rejects.toBeInstanceOf(InvalidUrl);
      await expect(session.get("ftp://127.0.0.1/x")).rejects.toBeInstanceOf(InvalidUrl);
    });
  });

  it("validates its options", () => {
    expect(() => new ClientSession({ limit: 0 })).toThrow(RangeError);
    expect(() => new ClientSession({ retries: -1 })).toThrow(/"retries" must be a number >= 0/);
    expect(() => new ClientSession({ timeout: { total: Number.NaN } })).toThrow(RangeError);
    expect(() => new ClientSession({ baseUrl: "ftp://x/" })).toThrow(InvalidUrl);
  });
});

describe("ClientSession: redirects", () => {
  it("follows redirects, records the chain, turns a 303 into a GET", async () => {
    const s = await server((req, res) => {
      if (req.url === "/a") res.writeHead(301, { location: "/b" }).end();
      else if (req.url === "/b") res.writeHead(303, { location: "c?x=1" }).end("see other");
      else res.writeHead(200, { "content-type": "text/plain" }).end(`${req.method} ${req.url}`);
    });
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin });
      const response = await session.post("/a", { body: "data" });
      expect(response.redirects).toEqual([`${s.origin}/a`, `${s.origin}/b`]);
      expect(response.url).toBe(`${s.origin}/c?x=1`);
      // 301 after POST becomes GET (long practice), and so does the 303.
      expect(await response.text()).toBe("GET /c?x=1");
      const manual = await session.get("/a", { maxRedirects: 0 });
      expect(manual.status).toBe(301);
      expect(manual.headers.location).toBe("/b");
      manual.release();
    });
  });

  it("a redirect loop ends with TooManyRedirects (loop: true), naming the chain", async () => {
    const s = await server((req, res) => {
      res.writeHead(302, { location: req.url === "/x" ? "/y" : "/x" }).end();
    });
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin });
      const error = (await session.get("/x").catch((e: unknown) => e)) as TooManyRedirects;
      expect(error).toBeInstanceOf(TooManyRedirects);
      expect(error.loop).toBe(true);
      expect(error.message).toBe(`redirect loop: ${s.origin}/x -> ${s.origin}/y -> ${s.origin}/x`);
      expect(s.log).toEqual(["GET /x", "GET /y"]);
    });
  });

  it("more than maxRedirects: TooManyRedirects (loop: false)", async () => {
    const s = await server((req, res) => {
      const n = Number(req.url?.slice(1));
      res.writeHead(307, { location: `/${n + 1}` }).end();
    });
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, maxRedirects: 3 });
      const error = (await session.get("/0").catch((e: unknown) => e)) as TooManyRedirects;
      expect(error).toBeInstanceOf(TooManyRedirects);
      expect(error.loop).toBe(false);
      expect(error.history).toHaveLength(5);
      expect(s.log).toHaveLength(4);
    });
  });
});

describe("ClientSession: body size cap", () => {
  it("a declared content-length over maxBodySize fails before reading", async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { "content-length": 10_000_000 });
      res.write(Buffer.alloc(1024));
      // never finishes: the client must not wait for it
    });
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, maxBodySize: 1000 });
      const error = await session.get("/").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BodyTooLarge);
      expect((error as BodyTooLarge).size).toBe(10_000_000);
      expect((error as BodyTooLarge).limit).toBe(1000);
    });
  });

  it("an endless streamed body is aborted once it passes the cap", async () => {
    let sent = 0;
    const s = await server((_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(16 * 1024, 1);
      const pump = () => {
        // bounded: at most 64 MiB even if the client never aborts
        while (sent < 64 * 1024 * 1024 && res.write(chunk)) sent += chunk.length;
        if (sent < 64 * 1024 * 1024) res.once("drain", pump);
      };
      pump();
    });
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, maxBodySize: 200_000 });
      const response = await session.get("/endless");
      const error = await response.bytes().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BodyTooLarge);
      expect((error as BodyTooLarge).size).toBeGreaterThan(200_000);
      // streaming hits the same cap
      const again = await session.get("/endless");
      let got = 0;
      const streamed = await (async () => {
        for await (const chunk of again) got += chunk.length;
      })().catch((e: unknown) => e);
      expect(streamed).toBeInstanceOf(BodyTooLarge);
      expect(got).toBeLessThanOrEqual(200_000);
    });
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });
});

describe("ClientSession: connections", () => {
  it("limitPerHost caps concurrent connections; limit caps requests in flight", async () => {
    let active = 0;
    let peak = 0;
    const s = await server((_req, res) => {
      active++;
      peak = Math.max(peak, active);
      setTimeout(() => {
        active--;
        res.end("ok");
      }, 30);
    });
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, limitPerHost: 3 });
      await taskGroup(async (tg) => {
        for (let i = 0; i < 12; i++) tg.createTask(async () => (await session.get("/")).text());
      });
      expect(peak).toBe(3);
      expect(s.connections()).toBe(3);
      peak = 0;
      await using capped = new ClientSession({ baseUrl: s.origin, limit: 2 });
      await taskGroup(async (tg) => {
        for (let i = 0; i < 8; i++) tg.createTask(async () => (await capped.get("/")).text());
      });
      expect(peak).toBe(2);
    });
  });

  it("a response left unread holds its slot until released", async () => {
    const s = await server((_req, res) => res.end("x".repeat(100)));
    await arun(async () => {
      await using session = new ClientSession({ baseUrl: s.origin, limit: 1 });
      const first = await session.get("/1");
      let second = false;
      const waiter = session.get("/2").then(async (r) => {
        second = true;
        await r.text();
      });
      await sleep(50);
      expect(second).toBe(false);
      first.release();
      await waiter;
      expect(second).toBe(true);
    });
  });

  it("close() closes the connections and refuses new requests", async () => {
    const s = await server((_req, res) => res.end("ok"));
    await arun(async () => {
      const session = new ClientSession({ baseUrl: s.origin });
      expect(await (await session.get("/")).text()).toBe("ok");
      await session.close();
      expect(session.closed).toBe(true);
      await expect(session.get("/")).rejects.toThrow("the session is closed");
      await session.close(); // idempotent
    });
  });
});
