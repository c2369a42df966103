/**
 * The package's entry points: the core entry `aiots` (src/index.ts) must not load undici or
 * htmlparser2, which only `aiots/http` and the CLI use; `aiots/http` exports its API.
 */
import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as http from "../../src/http/index.ts";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

/** Every module statically reachable from `entry`: local files, and bare package names. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  // Static imports and re-exports, and dynamic import() with a string literal.
  const specifier =
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^import\s*["']([^"']+)["']/gm;
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(specifier)) {
      const spec = (m[1] ?? m[2] ?? m[3]) as string;
      if (spec.startsWith(".")) pending.push(join(dirname(file), spec));
      else if (!spec.startsWith("node:")) packages.add(spec.split("/")[0] as string);
    }
  }
  return { files, packages };
}

describe("entry points", () => {
  it("importing aiots (src/index.ts) loads neither undici nor htmlparser2", () => {
    const { files, packages } = importGraph(join(SRC, "index.ts"));
    expect(files.size).toBeGreaterThan(10);
    expect([...packages]).not.toContain("undici");
    expect([...packages]).not.toContain("htmlparser2");
    const reached = [...files].map((f) => relative(SRC, f));
    expect(reached.filter((f) => f.startsWith("http/") || f.startsWith("cli/"))).toEqual([]);
  });

  it("aiots/http uses undici; the CLI imports aiots only through the public entries", () => {
    expect([...importGraph(join(SRC, "http/index.ts")).packages]).toContain("undici");
    const cli = importGraph(join(SRC, "cli/main.ts"));
    expect([...cli.packages].sort()).toEqual(["htmlparser2", "undici"]);
    // Outside src/cli the CLI reaches only what the two public entries reach.
    const publicGraph = new Set([
      ...importGraph(join(SRC, "index.ts")).files,
      ...importGraph(join(SRC, "http/index.ts")).files,
    ]);
    const outside = [...cli.files].filter((f) => !relative(SRC, f).startsWith("cli/"));
    expect(outside.filter((f) => !publicGraph.has(f))).toEqual([]);
    for (const file of cli.files) {
      if (!relative(SRC, file).startsWith("cli/")) continue;
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from\s*["'](\.\.\/[^"']+)["']/g)) {
        expect(["../index.ts", "../http/index.ts"]).toContain(m[1]);
      }
    }
  });

  it("aiots/http exports the session, the response and the errors, each named after itself", () => {
    expect(Object.keys(http).sort()).toEqual([
      "BodyTooLarge",
      "ClientError",
      "ClientResponse",
      "ClientSession",
      "ConnectError",
      "ConnectTimeout",
      "DEFAULT_RETRY_ON",
      "HttpError",
      "IDEMPOTENT_METHODS",
      "InvalidUrl",
      "RateLimiter",
      "ReadTimeout",
      "RequestTimeout",
      "ServerDisconnected",
      "TooManyRedirects",
      "backoffDelay",
      "parseRetryAfter",
    ]);
    const request = { method: "GET", url: "http://127.0.0.1/" };
    const errors = [
      new http.ClientError("x"),
      new http.HttpError(500, "Internal Server Error", request),
      new http.TooManyRedirects("x", [], false, request),
      new http.BodyTooLarge(1, 2, true, request),
      new http.InvalidUrl("x", "y"),
      new http.ConnectError("x"),
      new http.ConnectTimeout("x"),
      new http.ServerDisconnected("x"),
      new http.RequestTimeout("x", {}),
      new http.ReadTimeout("x", {}),
    ];
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(error.constructor.name);
    }
    expect(new http.ConnectTimeout("x")).toBeInstanceOf(http.ConnectError);
    expect(new http.HttpError(404, "", request)).not.toBeInstanceOf(http.ConnectError);
  });
});
