/**
 * `aiots crawl` as a process, against a loopback site that misbehaves in every way the issue
 * lists: slow pages, connection resets, 5xx, 429 with Retry-After, a redirect loop, huge and
 * endless bodies, invalid HTML, robots.txt disallowing paths. The crawl must end, report each
 * failure in that URL's line, and lose nothing: every reachable URL exactly once.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, type Loopback, runCli, serve } from "../helpers/loopback.ts";

interface Line {
  url: string;
  finalUrl: string | null;
  status: number | null;
  bytes: number;
  durationMs: number;
  contentType: string | null;
  sha256: string | null;
  error: string | null;
  depth: number;
  links: string[];
  redirects?: string[];
}

const html = (body: string) => `<!doctype html><html><body>${body}</body></html>`;

let site: Loopback;
let retryAfterSeen = 0;

beforeAll(async () => {
  site = await serve((req, res) => {
    const path = req.url ?? "/";
    const page = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
      res.end(html(body));
    };
    switch (path) {
      case "/robots.txt":
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("User-agent: *\nDisallow: /private/\n");
        return;
      case "/":
        page(
          200,
          [
            "ok",
            "slow",
            "error500",
            "reset",
            "loop1",
            "huge",
            "endless",
            "broken",
            "private/secret",
            "moved",
            "notfound",
            "limited",
            "data.json",
          ]
            .map((p) => `<a href="/${p}">${p}</a>`)
            .join("") +
            `<a href="mailto:x@example.invalid">m</a><a href="/ok#frag">again</a>` +
            `<a href="http://127.0.0.2:9/elsewhere">another host</a>`,
        );
        return;
      case "/ok":
        page(
          200,
          `<a href="/">home</a><a href="ok/child">child</a><a href="./ok/../ok/child">same</a>`,
        );
        return;
      case "/ok/child":
        page(200, `<a href="../deep">deeper</a>`);
        return;
      case "/deep":
        page(200, `<a href="/too-deep">depth 4 is past --depth 3</a>`);
        return;
      case "/slow": {
        const timer = setTimeout(() => page(200, "late"), 10_000);
        res.on("close", () => clearTimeout(timer));
        return;
      }
      case "/error500":
        page(500, "broken server");
        return;
      case "/reset":
        res.socket?.destroy();
        return;
      case "/loop1":
        res.writeHead(302, { location: "/loop2" }).end();
        return;
      case "/loop2":
        res.writeHead(302, { location: "/loop1" }).end();
        return;
      case "/huge":
        res.writeHead(200, {
          "content-type": "application/octet-stream",
          "content-length": 50_000_000,
        });
        res.write(Buffer.alloc(1024));
        return;
      case "/endless": {
        res.writeHead(200, { "content-type": "text/html" });
        let sent = 0;
        const chunk = Buffer.from(`<p>${"x".repeat(16_000)}</p>`);
        const pump = () => {
          while (sent < 32_000_000 && res.write(chunk)) sent += chunk.length; // bounded
          if (sent < 32_000_000) res.once("drain", pump);
        };
        pump();
        return;
      }
      case "/broken":
        res.writeHead(200, { "content-type": "text/html" });
        res.end(
          `<html><body><div><a href="/from-broken">x<p><table></span><<a href='/also'>\u0000<a href="/unterminated`,
        );
        return;
      case "/from-broken":
      case "/also":
        page(200, "found in broken HTML");
        return;
      case "/moved":
        res.writeHead(301, { location: "/ok" }).end();
        return;
      case "/limited":
        if (retryAfterSeen++ === 0) res.writeHead(429, { "retry-after": "1" }).end();
        else page(200, "now you may");
        return;
      case "/data.json":
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"links": "<a href=\\"/not-html\\">"}');
        return;
      default:
        page(404, "not found");
    }
  });
});

afterAll(async () => {
  await site.close();
});

describe("aiots crawl against a misbehaving site", () => {
  it("ends, reports every failure in its line, and has every URL exactly once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aiots-crawl-"));
    const output = join(dir, "out.jsonl");
    const result = await runCli([
      "crawl",
      `${site.origin}/`,
      "--output",
      output,
      "--timeout",
      "1500ms", // long enough for /limited's Retry-After: 1, short for /slow
      "--retries",
      "1",
      "--max-bytes",
      "1000000",
      "--concurrency",
      "6",
      "--json",
      "--quiet",
    ]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(1); // some URLs failed
    const lines = jsonLines<Line>(readFileSync(output, "utf8"));
    const byPath = new Map(lines.map((l) => [new URL(l.url).pathname, l]));
    expect(lines.map((l) => l.url).length).toBe(byPath.size); // no URL twice
    expect([...byPath.keys()].sort()).toEqual(
      [
        "/",
        "/ok",
        "/ok/child",
        "/deep",
        "/slow",
        "/error500",
        "/reset",
        "/loop1",
        "/huge",
        "/endless",
        "/broken",
        "/from-broken",
        "/also",
        "/moved",
        "/notfound",
        "/limited",
        "/data.json",
      ].sort(),
    );
    const get = (path: string) => byPath.get(path) as Line;
    expect(get("/").status).toBe(200);
    expect(get("/").depth).toBe(0);
    expect(get("/").links).not.toContain("http://127.0.0.2:9/elsewhere"); // other host
    expect(get("/ok").links).toEqual([`${site.origin}/`, `${site.origin}/ok/child`]);
    expect(get("/deep").depth).toBe(3);
    expect(get("/slow").error).toMatch(/^RequestTimeout: /);
    expect(get("/error500")).toMatchObject({
      status: 500,
      error: "HTTP 500 Internal Server Error",
    });
    expect(get("/reset").error).toMatch(/^ServerDisconnected: /);
    expect(get("/loop1").error).toMatch(/^TooManyRedirects: redirect loop: /);
    expect(get("/huge").error).toMatch(/^BodyTooLarge: .*content-length/);
    expect(get("/endless").error).toMatch(/^BodyTooLarge: /);
    expect(get("/endless").sha256).toBeNull();
    expect(get("/notfound")).toMatchObject({ status: 404, error: "HTTP 404 Not Found" });
    // The unterminated <a href="/unterminated at the very end is no link.
    expect(byPath.has("/unterminated")).toBe(false);
    expect(get("/moved")).toMatchObject({
      status: 200,
      finalUrl: `${site.origin}/ok`,
      redirects: [`${site.origin}/moved`],
    });
    expect(get("/limited")).toMatchObject({ status: 200, error: null });
    expect(get("/data.json").links).toEqual([]); // not HTML: not parsed
    expect(get("/ok").sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(get("/ok").contentType).toBe("text/html; charset=utf-8");
    // robots.txt: never requested, and counted
    expect(site.log).not.toContain("GET /private/secret");
    expect(site.log).not.toContain("GET /too-deep");
    const summary = JSON.parse(result.stdout.trim()) as Record<string, unknown>;
    expect(summary).toMatchObject({
      command: "crawl",
      done: 17,
      failed: 7,
      skipped: 1,
      interrupted: false,
      output,
    });
  });

  it("--depth and --max-pages bound the crawl; lines go to stdout without --output", async () => {
    const shallow = await runCli(["crawl", `${site.origin}/ok`, "--depth", "1", "--quiet"]);
    expect(shallow.code).toBe(0);
    const paths = jsonLines<Line>(shallow.stdout).map((l) => new URL(l.url).pathname);
    expect(paths.sort()).toEqual(["/", "/ok", "/ok/child"]);
    const capped = await runCli(["crawl", `${site.origin}/ok`, "--max-pages", "2", "--quiet"]);
    expect(jsonLines(capped.stdout)).toHaveLength(2);
  });

  it("with no URL, crawls the built-in demo site concurrently and stops it", async () => {
    const result = await runCli(["crawl", "--demo-pages", "30", "--demo-latency", "300"]);
    expect(result.code).toBe(0);
    const lines = jsonLines<Line>(result.stdout);
    expect(lines).toHaveLength(30);
    expect(new Set(lines.map((l) => l.url)).size).toBe(30);
    expect(lines.every((l) => l.status === 200)).toBe(true);
    expect(result.stderr).toContain("demo site at http://127.0.0.1:");
    const summary =
      /crawl: 30 pages in ([\d.]+) (s|ms) \(30 ok, 0 failed, 1 skipped by robots.txt\)/.exec(
        result.stderr,
      );
    expect(summary === null ? result.stderr : "summary found").toBe("summary found");
    // Two rounds of 300 ms, not thirty.
    const seconds = Number(summary?.[1]) / (summary?.[2] === "ms" ? 1000 : 1);
    expect(seconds).toBeLessThan(3);
    expect(result.stderr).toMatch(/one after another they would have taken [\d.]+ s/);
  });
});
