/**
 * The main demo (`npm run demo`): many slow requests against a loopback HTTP server, first one
 * after another, then concurrently in a TaskGroup, then concurrently under a timeout that
 * really stops them. Every request gets its task's AbortSignal, so a cancellation (a timeout,
 * a failing sibling, Ctrl-C) aborts the request itself.
 *
 * Run: node examples/flagship.ts [--count 20] [--latency 200]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import {
  currentTask,
  KeyboardInterrupt,
  run,
  sleep,
  TimeoutError,
  taskGroup,
  timeout,
} from "../src/index.ts";

const USAGE = `usage: node examples/flagship.ts [--count N] [--latency MS]
  --count N     requests per phase, 1-1000 (default 20)
  --latency MS  how long the server takes to answer each request, 1-5000 (default 200)`;

function intOption(value: string, name: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RangeError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

function parseOptions(): { count: number; latency: number } {
  const { values } = parseArgs({
    options: {
      count: { type: "string", default: "20" },
      latency: { type: "string", default: "200" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    count: intOption(values.count, "count", 1, 1000),
    latency: intOption(values.latency, "latency", 1, 5000),
  };
}

/** An HTTP server on 127.0.0.1 that answers each request after `latency` ms. */
async function startServer(latency: number) {
  const stats = { answered: 0, abandoned: 0 };
  const server = createServer((req, res) => {
    const timer = setTimeout(() => {
      stats.answered++;
      res.end(`response to ${req.url}`);
    }, latency);
    res.on("close", () => {
      if (res.writableFinished) return;
      clearTimeout(timer); // the client went away: stop working on its request
      stats.abandoned++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { base: `http://127.0.0.1:${port}`, stats, close };
}

async function get(url: string): Promise<string> {
  // The task's signal aborts the request when the task is cancelled.
  const response = await fetch(url, { signal: currentTask()?.signal ?? null });
  return response.text();
}

async function sequential(urls: string[]): Promise<string[]> {
  const bodies: string[] = [];
  for (const url of urls) bodies.push(await get(url));
  return bodies;
}

async function concurrent(urls: string[]): Promise<string[]> {
  const tasks = await taskGroup(async (tg) => urls.map((url) => tg.createTask(() => get(url))));
  return tasks.map((task) => task.result());
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

const seconds = (ms: number): string => (ms / 1000).toFixed(2);

async function main(count: number, latency: number): Promise<void> {
  const server = await startServer(latency);
  try {
    const urls = Array.from({ length: count }, (_, i) => `${server.base}/item/${i + 1}`);
    console.log(
      `aiots demo: ${count} requests to a loopback server that answers each after ${latency} ms`,
    );

    const [seq, seqMs] = await timed(() => sequential(urls));
    console.log(`sequential: ${seq.length} responses in ${seconds(seqMs)} s`);
    const [con, conMs] = await timed(() => concurrent(urls));
    console.log(`concurrent: ${con.length} responses in ${seconds(conMs)} s`);
    if (con.join() !== seq.join()) throw new Error("the two phases got different responses");
    console.log(`speed-up: ${(seqMs / conMs).toFixed(1)}x`);

    // A timeout that stops the work: the requests in flight are aborted, and the server sees it.
    const limit = Math.ceil(latency / 2);
    const before = { ...server.stats };
    const [outcome, tmoMs] = await timed(async () => {
      try {
        await timeout(limit, () => concurrent(urls));
        return "finished in time";
      } catch (e) {
        if (!(e instanceof TimeoutError)) throw e;
        return "TimeoutError";
      }
    });
    // Give the server a moment to notice the closed connections (bounded: at most ~1 s).
    for (let i = 0; i < 100 && server.stats.abandoned - before.abandoned < count; i++) {
      await sleep(10);
    }
    const abandoned = server.stats.abandoned - before.abandoned;
    const answered = server.stats.answered - before.answered;
    console.log(`timeout(${limit} ms): ${outcome} after ${seconds(tmoMs)} s`);
    console.log(
      `server: ${abandoned} of ${count} requests abandoned by the client, ${answered} answered`,
    );
  } finally {
    await server.close();
  }
}

let options: { count: number; latency: number };
try {
  options = parseOptions();
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
try {
  await run(() => main(options.count, options.latency));
} catch (e) {
  if (!(e instanceof KeyboardInterrupt)) throw e;
  console.error("interrupted: every request in flight was aborted");
  process.exitCode = 130;
}
