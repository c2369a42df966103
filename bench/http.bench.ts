/**
 * HTTP benchmarks (issue 7, "Performance"):
 *
 * - `http-get`: 20k GET requests of 1 KiB over loopback at concurrency 64, against a node:http
 *   server in its own process: a raw undici `Pool`, Node's `fetch`, and aiots's `ClientSession`
 *   (target: at least 85% of the raw Pool in the same run).
 * - `crawl-demo`: `aiots crawl --concurrency 100` of the built-in demo site (100 pages that each
 *   take 1 s to answer), wall time of the whole command, node start-up included (target: under
 *   3 s). Fetching the pages one by one would take the sum of their response times: the
 *   `sequential (computed)` row is that sum, read from the crawl's own output, not a second run.
 *
 * - Through the runner: `npm run bench -- --filter http-get,crawl-demo`.
 * - One subject by hand: `node --expose-gc bench/http.bench.ts http-get aiots/ClientSession --runs 3`.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

const REQUESTS = 20_000;
const CONCURRENCY = 64;
const BODY_SIZE = 1024;

// ---------------------------------------------------------------- the server (a child process)

/** The server: answers every request with 1 KiB; exits when its stdin closes (our exit). */
const SERVER = `
const http = require("node:http");
const body = Buffer.alloc(${BODY_SIZE}, "x");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

let server: Promise<{ origin: string; child: ChildProcess }> | undefined;

/** Start the server once per child process; every run of the subject reuses it. */
function startServer(): Promise<{ origin: string; child: ChildProcess }> {
  server ??= new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", SERVER], { stdio: ["pipe", "pipe", "inherit"] });
    child.on("error", reject);
    child.stdout?.setEncoding("utf8").once("data", (line: string) => {
      resolve({ origin: `http://127.0.0.1:${line.trim()}`, child });
    });
  });
  return server;
}

/** `CONCURRENCY` workers share `REQUESTS` requests; each calls `get()` and checks the size. */
async function drive(get: () => Promise<number>): Promise<Sample> {
  let next = 0;
  let bytes = 0;
  const start = performance.now();
  const worker = async (): Promise<void> => {
    while (next < REQUESTS) {
      next++;
      const size = await get();
      bytes += size;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const end = performance.now();
  check("bytes received", bytes, REQUESTS * BODY_SIZE);
  return rate(REQUESTS, start, end);
}

async function rawPool(): Promise<Sample> {
  const { origin } = await startServer();
  const { Pool } = await import("undici");
  const pool = new Pool(origin, { connections: CONCURRENCY });
  try {
    return await drive(async () => {
      const { statusCode, body } = await pool.request({ path: "/", method: "GET" });
      const data = await body.bytes();
      if (statusCode !== 200) throw new Error(`status ${statusCode}`);
      return data.length;
    });
  } finally {
    await pool.close();
  }
}

async function nodeFetch(): Promise<Sample> {
  const { origin } = await startServer();
  const url = `${origin}/`;
  return drive(async () => {
    const response = await fetch(url);
    const data = await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`status ${response.status}`);
    return data.byteLength;
  });
}

/** aiots/http next to the aiots entry the harness loads (src/, dist/ or --aiots). */
async function loadHttp(): Promise<typeof import("../src/http/index.ts")> {
  const entry = aiotsEntry();
  const ext = entry.endsWith(".js") ? ".js" : ".ts";
  return import(new URL(`./http/index${ext}`, entry).href) as Promise<
    typeof import("../src/http/index.ts")
  >;
}

async function aiotsSession(): Promise<Sample> {
  const { origin } = await startServer();
  const { run, taskGroup } = await loadAiots();
  const { ClientSession } = await loadHttp();
  return run(async () => {
    const session = new ClientSession({ baseUrl: origin, limitPerHost: CONCURRENCY });
    try {
      let next = 0;
      let bytes = 0;
      const start = performance.now();
      await taskGroup(async (tg) => {
        for (let w = 0; w < CONCURRENCY; w++) {
          tg.createTask(async () => {
            while (next < REQUESTS) {
              next++;
              const response = await session.get("/");
              const data = await response.bytes();
              if (response.status !== 200) throw new Error(`status ${response.status}`);
              bytes += data.length;
            }
          });
        }
      });
      const end = performance.now();
      check("bytes received", bytes, REQUESTS * BODY_SIZE);
      return rate(REQUESTS, start, end);
    } finally {
      await session.close();
    }
  });
}

// ---------------------------------------------------------------- crawl of the demo site

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PAGES = 100;

interface CrawlRun {
  wallMs: number;
  /** The sum of every page's durationMs: how long fetching them one by one would take. */
  sequentialMs: number;
}

/** Run `aiots crawl --concurrency 100` on the demo site; its results go to a scratch file. */
function crawlOnce(): Promise<CrawlRun> {
  const dir = mkdtempSync(join(tmpdir(), "aiots-bench-crawl-"));
  const output = join(dir, "out.jsonl");
  const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
  const args = [cli, "crawl", "--concurrency", "100", "--output", output, "--quiet"];
  const start = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 60_000 }, (error, _stdout, stderr) => {
      const wallMs = performance.now() - start;
      try {
        if (error !== null) throw new Error(`aiots crawl failed: ${error.message}\n${stderr}`);
        const lines = readFileSync(output, "utf8").trim().split("\n");
        const results = lines.map((l) => JSON.parse(l) as { status: number; durationMs: number });
        check(
          "pages crawled with status 200",
          results.filter((r) => r.status === 200).length,
          PAGES,
        );
        const sequentialMs = results.reduce((sum, r) => sum + r.durationMs, 0);
        resolve({ wallMs, sequentialMs });
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

async function crawlWall(): Promise<Sample> {
  const { wallMs } = await crawlOnce();
  return { value: wallMs / 1000, n: PAGES };
}

async function crawlSequential(): Promise<Sample> {
  const { sequentialMs } = await crawlOnce();
  return { value: sequentialMs / 1000, n: PAGES };
}

export const scenarios: Scenarios = {
  "http-get": {
    description: `${REQUESTS / 1000}k GET requests of 1 KiB over loopback, concurrency ${CONCURRENCY}`,
    unit: "requests/s",
    better: "higher",
    baseline: "aiots/ClientSession",
    subjects: {
      "aiots/ClientSession": aiotsSession,
      "raw/undici-Pool": rawPool,
      "raw/fetch": nodeFetch,
    },
  },
  "crawl-demo": {
    description: "aiots crawl --concurrency 100 of the demo site (100 pages, 1 s latency each)",
    unit: "s wall time",
    better: "lower",
    baseline: "aiots crawl",
    runs: 3,
    warmup: 0,
    subjects: {
      "aiots crawl": crawlWall,
      "sequential (computed)": crawlSequential,
    },
  },
};

await childMain(import.meta.url, scenarios);
