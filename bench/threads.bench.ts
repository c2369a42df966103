/**
 * Thread benchmarks (issue 5, "Performance"): tiny jobs and near-empty jobs on 2 threads, 4
 * CPU-heavy jobs on 2 cores against the main thread, and the event loop's heartbeat while threads
 * work. aiots (`toThread`, `pool.submit`) against a minimal hand-written `worker_threads`
 * dispatcher, piscina and tinypool.
 *
 * - Through the runner: `npm run bench -- --filter thread`.
 * - One subject by hand: `node --expose-gc bench/threads.bench.ts thread-tiny aiots/toThread`.
 *
 * Every subject creates its pool once per child process (in the warm-up run) and reuses it, as
 * a real program would: worker start-up is not what is measured. `toThread` runs on the default
 * pool of a `Runner` kept across runs; it has `os.availableParallelism()` workers (2 here).
 *
 * @module
 */
import type { Worker } from "node:worker_threads";
import type { Future, Runner, WorkerPool } from "../src/index.ts";
import { check, childMain, loadAiots, rate, type Sample, type Scenarios } from "./harness.ts";

const THREADS = 2;
const TINY_N = 10_000;
/** Each tiny job sums this many numbers. */
const TINY_WORK = 10_000;
const DISPATCH_N = 10_000;
const HEAVY_JOBS = 4;
const HEAVY_WORK = 15_000_000;

const jobsUrl = new URL("./threads-worker.ts", import.meta.url);

// The jobs, inline, for aiots' function jobs (the same code as in threads-worker.ts).
function sum(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += i;
  return s;
}
function echo(x: number): number {
  return x;
}
function heavy(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + Math.sqrt(i)) % 1_000_003;
  return Math.floor(x);
}

const SUM = sum(TINY_WORK);

// ---------------------------------------------------------------- pools, made once per child

let runner: Runner | undefined;
let aiotsPool: WorkerPool | undefined;

async function aiotsRunner(): Promise<Runner> {
  const { Runner } = await loadAiots();
  runner ??= new Runner({ handleSignals: false });
  return runner;
}

async function pool(): Promise<WorkerPool> {
  const { WorkerPool } = await loadAiots();
  aiotsPool ??= new WorkerPool({ size: THREADS });
  return aiotsPool;
}

type Run = (name: "sum" | "echo" | "heavy", arg: number) => Promise<number>;

let piscinaRun: Run | undefined;
async function piscina(): Promise<Run> {
  if (piscinaRun === undefined) {
    const { Piscina } = await import("piscina");
    const p = new Piscina({ filename: jobsUrl.href, minThreads: THREADS, maxThreads: THREADS });
    piscinaRun = (name, arg) => p.run(arg, { name }) as Promise<number>;
  }
  return piscinaRun;
}

let tinypoolRun: Run | undefined;
async function tinypool(): Promise<Run> {
  if (tinypoolRun === undefined) {
    const { Tinypool } = await import("tinypool");
    const p = new Tinypool({ filename: jobsUrl.href, minThreads: THREADS, maxThreads: THREADS });
    tinypoolRun = (name, arg) => p.run(arg, { name }) as Promise<number>;
  }
  return tinypoolRun;
}

/**
 * The raw baseline: a minimal dispatcher on `worker_threads`. Jobs go round-robin to the workers,
 * all posted at once; replies find their promise by id.
 */
let rawRun: Run | undefined;
async function raw(): Promise<Run> {
  if (rawRun === undefined) {
    const { Worker } = await import("node:worker_threads");
    const source = `
      const { parentPort } = require("node:worker_threads");
      const jobs = { sum: ${sum.toString()}, echo: ${echo.toString()}, heavy: ${heavy.toString()} };
      parentPort.on("message", (m) => parentPort.postMessage([m[0], jobs[m[1]](m[2])]));`;
    const pending = new Map<number, (value: number) => void>();
    const workers: Worker[] = [];
    for (let i = 0; i < THREADS; i++) {
      const w = new Worker(source, { eval: true });
      w.on("message", (m: [number, number]) => {
        const resolve = pending.get(m[0]);
        pending.delete(m[0]);
        resolve?.(m[1]);
      });
      workers.push(w);
    }
    let next = 0;
    rawRun = (name, arg) => {
      const id = next++;
      const { promise, resolve } = Promise.withResolvers<number>();
      pending.set(id, resolve);
      (workers[id % THREADS] as Worker).postMessage([id, name, arg]);
      return promise;
    };
  }
  return rawRun;
}

// ---------------------------------------------------------------- tiny jobs

function expectAll(results: number[], expected: number, n: number): void {
  check("jobs answered", results.length, n);
  check("correct results", results.filter((r) => r === expected).length, n);
}

async function tinyToThread(): Promise<Sample> {
  const { gather, toThread } = await loadAiots();
  const r = await aiotsRunner();
  return r.run(async () => {
    await toThread(sum, 1); // the default pool is up (it lives as long as the runner)
    const start = performance.now();
    const futures: Future<number>[] = [];
    for (let i = 0; i < TINY_N; i++) futures.push(toThread(sum, TINY_WORK));
    const results = await gather(futures);
    const end = performance.now();
    expectAll(results, SUM, TINY_N);
    return rate(TINY_N, start, end);
  });
}

async function tinySubmit(): Promise<Sample> {
  const { gather, run } = await loadAiots();
  const p = await pool();
  return run(
    async () => {
      const start = performance.now();
      const futures: Future<number>[] = [];
      for (let i = 0; i < TINY_N; i++) futures.push(p.submit(sum, TINY_WORK));
      const results = await gather(futures);
      const end = performance.now();
      expectAll(results, SUM, TINY_N);
      return rate(TINY_N, start, end);
    },
    { handleSignals: false },
  );
}

function tinyWith(get: () => Promise<Run>): () => Promise<Sample> {
  return async () => {
    const runJob = await get();
    await runJob("sum", 1);
    const start = performance.now();
    const promises: Promise<number>[] = [];
    for (let i = 0; i < TINY_N; i++) promises.push(runJob("sum", TINY_WORK));
    const results = await Promise.all(promises);
    const end = performance.now();
    expectAll(results, SUM, TINY_N);
    return rate(TINY_N, start, end);
  };
}

// ---------------------------------------------------------------- dispatch cost (empty jobs)

function perJob(n: number, start: number, end: number): Sample {
  return { value: ((end - start) * 1000) / n, n };
}

async function dispatchToThread(): Promise<Sample> {
  const { gather, toThread } = await loadAiots();
  const r = await aiotsRunner();
  return r.run(async () => {
    await toThread(echo, 1);
    const start = performance.now();
    const futures: Future<number>[] = [];
    for (let i = 0; i < DISPATCH_N; i++) futures.push(toThread(echo, 7));
    const results = await gather(futures);
    const end = performance.now();
    expectAll(results, 7, DISPATCH_N);
    return perJob(DISPATCH_N, start, end);
  });
}

async function dispatchSubmit(): Promise<Sample> {
  const { gather, run } = await loadAiots();
  const p = await pool();
  return run(
    async () => {
      const start = performance.now();
      const futures: Future<number>[] = [];
      for (let i = 0; i < DISPATCH_N; i++) futures.push(p.submit(echo, 7));
      const results = await gather(futures);
      const end = performance.now();
      expectAll(results, 7, DISPATCH_N);
      return perJob(DISPATCH_N, start, end);
    },
    { handleSignals: false },
  );
}

function dispatchWith(get: () => Promise<Run>): () => Promise<Sample> {
  return async () => {
    const runJob = await get();
    await runJob("echo", 1);
    const start = performance.now();
    const promises: Promise<number>[] = [];
    for (let i = 0; i < DISPATCH_N; i++) promises.push(runJob("echo", 7));
    const results = await Promise.all(promises);
    const end = performance.now();
    expectAll(results, 7, DISPATCH_N);
    return perJob(DISPATCH_N, start, end);
  };
}

// ---------------------------------------------------------------- heavy jobs and the heartbeat

let heavyExpected: number | undefined;

function checkHeavy(results: number[]): void {
  heavyExpected ??= results[0];
  check(
    "heavy jobs with the same checksum",
    results.filter((r) => r === heavyExpected).length,
    HEAVY_JOBS,
  );
}

async function heavyToThread(): Promise<Sample> {
  const { gather, toThread } = await loadAiots();
  const r = await aiotsRunner();
  return r.run(async () => {
    await gather(toThread(echo, 1), toThread(echo, 1)); // both workers are up
    const start = performance.now();
    const results = await gather(
      Array.from({ length: HEAVY_JOBS }, () => () => toThread(heavy, HEAVY_WORK)),
    );
    const end = performance.now();
    checkHeavy(results);
    return { value: end - start, n: HEAVY_JOBS };
  });
}

async function heavyMain(): Promise<Sample> {
  const start = performance.now();
  const results: number[] = [];
  for (let i = 0; i < HEAVY_JOBS; i++) results.push(heavy(HEAVY_WORK));
  const end = performance.now();
  checkHeavy(results);
  return { value: end - start, n: HEAVY_JOBS };
}

async function heavyPiscina(): Promise<Sample> {
  const runJob = await piscina();
  await Promise.all([runJob("echo", 1), runJob("echo", 1)]);
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: HEAVY_JOBS }, () => runJob("heavy", HEAVY_WORK)),
  );
  const end = performance.now();
  checkHeavy(results);
  return { value: end - start, n: HEAVY_JOBS };
}

/** The worst lateness of a 10 ms heartbeat while `work` runs, in ms. */
async function heartbeatWhile(onThreads: boolean): Promise<Sample> {
  const { createTask, gather, sleep, toThread } = await loadAiots();
  const r = await aiotsRunner();
  return r.run(async () => {
    await gather(toThread(echo, 1), toThread(echo, 1));
    let worst = 0;
    let beats = 0;
    let due = Number.POSITIVE_INFINITY;
    const heartbeat = createTask(async () => {
      for (;;) {
        due = performance.now() + 10;
        await sleep(10);
        worst = Math.max(worst, performance.now() - due);
        beats++;
      }
    });
    await sleep(0);
    const results = onThreads
      ? await gather(Array.from({ length: HEAVY_JOBS }, () => () => toThread(heavy, HEAVY_WORK)))
      : Array.from({ length: HEAVY_JOBS }, () => heavy(HEAVY_WORK));
    worst = Math.max(worst, performance.now() - due);
    heartbeat.cancel();
    checkHeavy(results);
    if (onThreads && beats < 10) throw new Error(`only ${beats} heartbeats: the loop was blocked`);
    return { value: worst, n: Math.max(beats, 1) };
  });
}

export const scenarios: Scenarios = {
  "thread-tiny": {
    description: `${TINY_N / 1000}k tiny jobs (each sums ${TINY_WORK / 1000}k numbers) on ${THREADS} threads`,
    unit: "jobs/s",
    better: "higher",
    baseline: "aiots/toThread",
    subjects: {
      "aiots/toThread": tinyToThread,
      "aiots/pool.submit": tinySubmit,
      "raw/worker_threads": tinyWith(raw),
      piscina: tinyWith(piscina),
      tinypool: tinyWith(tinypool),
    },
  },
  "thread-dispatch": {
    description: `${DISPATCH_N / 1000}k near-empty jobs on ${THREADS} threads: wall time per job`,
    unit: "us/job",
    better: "lower",
    baseline: "aiots/toThread",
    subjects: {
      "aiots/toThread": dispatchToThread,
      "aiots/pool.submit": dispatchSubmit,
      "raw/worker_threads": dispatchWith(raw),
      piscina: dispatchWith(piscina),
      tinypool: dispatchWith(tinypool),
    },
  },
  "thread-heavy": {
    description: `${HEAVY_JOBS} CPU-heavy jobs (~0.3 s each) on ${THREADS} threads vs the main thread`,
    unit: "ms",
    better: "lower",
    baseline: "aiots/toThread",
    runs: 3,
    subjects: {
      "aiots/toThread": heavyToThread,
      piscina: heavyPiscina,
      "main-thread": heavyMain,
    },
  },
  "thread-heartbeat": {
    description: `worst lateness of a 10 ms heartbeat while ${HEAVY_JOBS} heavy jobs run`,
    unit: "ms late",
    better: "lower",
    baseline: "aiots/toThread",
    runs: 3,
    subjects: {
      "aiots/toThread": () => heartbeatWhile(true),
      "main-thread": () => heartbeatWhile(false),
    },
  },
};

await childMain(import.meta.url, scenarios);
