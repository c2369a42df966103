/**
 * Synchronization and queue benchmarks (issue 3, "Performance"): a producer/consumer Queue, a
 * contended Lock, bounded concurrency through a Semaphore. aiots against a minimal hand-written
 * JavaScript version of each, and the peers: p-limit, p-queue, async-mutex and Effect 4.
 *
 * - Through the runner, with the other benchmarks: `npm run bench -- --filter queue,lock,bounded`.
 * - Standalone, all three scenarios in one run (about 30-60 s), one child process per subject:
 *       node bench/sync.bench.ts [--runs R] [--warmup W]
 * - One subject by hand: `node --expose-gc bench/sync.bench.ts lock-100x1000 aiots --runs 3`.
 *
 * "An await inside" is one microtask (`await resolved`), the same in every subject.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  type ChildReport,
  check,
  childMain,
  loadAiots,
  rate,
  type Sample,
  type Scenarios,
  submitJobs,
} from "./harness.ts";

/** Awaiting it costs one microtask tick, like `await null` (which the lint forbids). */
const resolved = Promise.resolve();

// ---------------------------------------------------------------- queue: 1 producer, 4 consumers

const QUEUE_N = 1_000_000;
/** Effect 4 moves about 0.5M items/s: fewer items keep its runs near a second. */
const QUEUE_N_EFFECT = 200_000;
const QUEUE_MAXSIZE = 100;
const CONSUMERS = 4;

async function queueAiots(): Promise<Sample> {
  const { createTask, gather, Queue, run } = await loadAiots();
  return run(async () => {
    const queue = new Queue<number>(QUEUE_MAXSIZE);
    let got = 0;
    const start = performance.now();
    const consumers = Array.from({ length: CONSUMERS }, () =>
      createTask(async () => {
        for (;;) {
          const item = await queue.get();
          if (item < 0) return;
          got++;
        }
      }),
    );
    const producer = createTask(async () => {
      for (let i = 0; i < QUEUE_N; i++) await queue.put(i);
      for (let c = 0; c < CONSUMERS; c++) await queue.put(-1);
    });
    await gather(producer, ...consumers);
    const end = performance.now();
    check("items received", got, QUEUE_N);
    return rate(QUEUE_N, start, end);
  });
}

/** A minimal bounded async queue: an array, and the resolvers of blocked getters and putters. */
class RawQueue<T> {
  readonly #max: number;
  #items: T[] = [];
  #head = 0;
  readonly #getters: ((item: T) => void)[] = [];
  readonly #putters: (() => void)[] = [];

  constructor(max: number) {
    this.#max = max;
  }

  async put(item: T): Promise<void> {
    while (this.#items.length - this.#head >= this.#max) {
      await new Promise<void>((resolve) => this.#putters.push(resolve));
    }
    const getter = this.#getters.shift();
    if (getter === undefined) this.#items.push(item);
    else getter(item);
  }

  get(): Promise<T> | T {
    if (this.#head === this.#items.length) {
      return new Promise<T>((resolve) => this.#getters.push(resolve));
    }
    const item = this.#items[this.#head++] as T;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#putters.shift()?.();
    return item;
  }
}

async function queueRaw(): Promise<Sample> {
  const queue = new RawQueue<number>(QUEUE_MAXSIZE);
  let got = 0;
  const start = performance.now();
  const consumers = Array.from({ length: CONSUMERS }, async () => {
    for (;;) {
      const item = await queue.get();
      if (item < 0) return;
      got++;
    }
  });
  const producer = (async () => {
    for (let i = 0; i < QUEUE_N; i++) await queue.put(i);
    for (let c = 0; c < CONSUMERS; c++) await queue.put(-1);
  })();
  await Promise.all([producer, ...consumers]);
  const end = performance.now();
  check("items received", got, QUEUE_N);
  return rate(QUEUE_N, start, end);
}

async function queueEffect(): Promise<Sample> {
  const { Effect, Fiber, Queue } = await import("effect");
  const n = QUEUE_N_EFFECT;
  let got = 0;
  const program = Effect.gen(function* () {
    const queue = yield* Queue.bounded<number>(QUEUE_MAXSIZE);
    const consumers = [];
    for (let c = 0; c < CONSUMERS; c++) {
      consumers.push(
        yield* Effect.forkChild(
          Effect.gen(function* () {
            for (;;) {
              const item = yield* Queue.take(queue);
              if (item < 0) return;
              got++;
            }
          }),
        ),
      );
    }
    const producer = yield* Effect.forkChild(
      Effect.gen(function* () {
        for (let i = 0; i < n; i++) yield* Queue.offer(queue, i);
        for (let c = 0; c < CONSUMERS; c++) yield* Queue.offer(queue, -1);
      }),
    );
    yield* Fiber.join(producer);
    for (const consumer of consumers) yield* Fiber.join(consumer);
  });
  const start = performance.now();
  await Effect.runPromise(program);
  const end = performance.now();
  check("items received", got, n);
  return rate(n, start, end);
}

// ---------------------------------------------------------------- lock: 100 tasks x 1000

const LOCK_TASKS = 100;
const LOCK_ROUNDS = 1000;
const LOCK_N = LOCK_TASKS * LOCK_ROUNDS;

async function lockAiots(): Promise<Sample> {
  const { createTask, gather, Lock, run } = await loadAiots();
  return run(async () => {
    const lock = new Lock();
    let count = 0;
    const worker = async (): Promise<void> => {
      for (let i = 0; i < LOCK_ROUNDS; i++) {
        await lock.acquire();
        try {
          await resolved;
          count++;
        } finally {
          lock.release();
        }
      }
    };
    const start = performance.now();
    await gather(Array.from({ length: LOCK_TASKS }, () => createTask(worker)));
    const end = performance.now();
    check("acquisitions", count, LOCK_N);
    return rate(LOCK_N, start, end);
  });
}

async function lockAiotsWithLock(): Promise<Sample> {
  const { createTask, gather, Lock, run } = await loadAiots();
  return run(async () => {
    const lock = new Lock();
    let count = 0;
    const body = async (): Promise<void> => {
      await resolved;
      count++;
    };
    const worker = async (): Promise<void> => {
      for (let i = 0; i < LOCK_ROUNDS; i++) await lock.withLock(body);
    };
    const start = performance.now();
    await gather(Array.from({ length: LOCK_TASKS }, () => createTask(worker)));
    const end = performance.now();
    check("acquisitions", count, LOCK_N);
    return rate(LOCK_N, start, end);
  });
}

/** A minimal fair lock: a flag, and the resolvers of the waiters, each handed the lock in turn. */
class RawLock {
  #locked = false;
  readonly #waiters: (() => void)[] = [];

  acquire(): Promise<void> {
    if (!this.#locked) {
      this.#locked = true;
      return resolved;
    }
    return new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.#locked = false;
    else next(); // stays locked: handed to the next waiter
  }
}

async function lockRaw(): Promise<Sample> {
  const lock = new RawLock();
  let count = 0;
  const worker = async (): Promise<void> => {
    for (let i = 0; i < LOCK_ROUNDS; i++) {
      await lock.acquire();
      try {
        await resolved;
        count++;
      } finally {
        lock.release();
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: LOCK_TASKS }, worker));
  const end = performance.now();
  check("acquisitions", count, LOCK_N);
  return rate(LOCK_N, start, end);
}

async function lockAsyncMutex(): Promise<Sample> {
  const { Mutex } = await import("async-mutex");
  const mutex = new Mutex();
  let count = 0;
  const worker = async (): Promise<void> => {
    for (let i = 0; i < LOCK_ROUNDS; i++) {
      const release = await mutex.acquire();
      try {
        await resolved;
        count++;
      } finally {
        release();
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: LOCK_TASKS }, worker));
  const end = performance.now();
  check("acquisitions", count, LOCK_N);
  return rate(LOCK_N, start, end);
}

// ---------------------------------------------------------------- bounded concurrency

const BOUNDED_N = 100_000;
/** async-mutex's Semaphore runs about 10k jobs/s here: 10k keep its runs near a second. */
const BOUNDED_N_ASYNC_MUTEX = 10_000;
const LIMIT = 100;

async function boundedAiots(): Promise<Sample> {
  const { run, Semaphore, taskGroup } = await loadAiots();
  return run(async () => {
    const sem = new Semaphore(LIMIT);
    let done = 0;
    const job = async (): Promise<void> => {
      await resolved;
      done++;
    };
    const start = performance.now();
    await taskGroup(async (tg) => {
      for (let i = 0; i < BOUNDED_N; i++) tg.createTask(() => sem.withPermit(job));
    });
    const end = performance.now();
    check("jobs done", done, BOUNDED_N);
    return rate(BOUNDED_N, start, end);
  });
}

async function boundedAiotsPromises(): Promise<Sample> {
  const { run, Semaphore } = await loadAiots();
  return run(async () => {
    const sem = new Semaphore(LIMIT);
    return submitJobs(BOUNDED_N, (job) => sem.withPermit(job));
  });
}

async function boundedAiotsGather(): Promise<Sample> {
  const { createTask, gather, run, Semaphore } = await loadAiots();
  return run(async () => {
    const sem = new Semaphore(LIMIT);
    let done = 0;
    const job = async (): Promise<void> => {
      await resolved;
      done++;
    };
    const start = performance.now();
    const tasks = [];
    for (let i = 0; i < BOUNDED_N; i++) tasks.push(createTask(() => sem.withPermit(job)));
    await gather(tasks);
    const end = performance.now();
    check("jobs done", done, BOUNDED_N);
    return rate(BOUNDED_N, start, end);
  });
}

/**
 * A minimal semaphore: a counter, and a FIFO of the resolvers of the waiters (an array with a
 * moving head: `shift()` on 100k waiters would be quadratic), each handed a permit in turn.
 */
class RawSemaphore {
  #value: number;
  #waiters: (() => void)[] = [];
  #head = 0;

  constructor(value: number) {
    this.#value = value;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#value > 0) this.#value--;
    else await new Promise<void>((resolve) => this.#waiters.push(resolve));
    try {
      return await fn();
    } finally {
      if (this.#head === this.#waiters.length) {
        this.#value++;
      } else {
        const next = this.#waiters[this.#head++] as () => void;
        if (this.#head === this.#waiters.length) {
          this.#waiters = [];
          this.#head = 0;
        }
        next(); // the permit goes straight to the next waiter
      }
    }
  }
}

async function boundedRaw(): Promise<Sample> {
  const sem = new RawSemaphore(LIMIT);
  return submitJobs(BOUNDED_N, (job) => sem.run(job));
}

async function boundedPLimit(): Promise<Sample> {
  const { default: pLimit } = await import("p-limit");
  const limit = pLimit(LIMIT);
  return submitJobs(BOUNDED_N, (job) => limit(job));
}

async function boundedPQueue(): Promise<Sample> {
  const { default: PQueue } = await import("p-queue");
  const queue = new PQueue({ concurrency: LIMIT });
  let done = 0;
  const job = async (): Promise<void> => {
    await resolved;
    done++;
  };
  const start = performance.now();
  for (let i = 0; i < BOUNDED_N; i++) void queue.add(job);
  await queue.onIdle();
  const end = performance.now();
  check("jobs done", done, BOUNDED_N);
  return rate(BOUNDED_N, start, end);
}

async function boundedAsyncMutex(): Promise<Sample> {
  const { Semaphore } = await import("async-mutex");
  const sem = new Semaphore(LIMIT);
  return submitJobs(BOUNDED_N_ASYNC_MUTEX, (job) => sem.runExclusive(job));
}

// ---------------------------------------------------------------- scenarios

export const scenarios: Scenarios = {
  "queue-1p4c": {
    description: "1M items through a Queue(100), 1 producer and 4 consumers",
    unit: "items/s",
    better: "higher",
    subjects: { aiots: queueAiots, raw: queueRaw, effect: queueEffect },
  },
  "lock-100x1000": {
    description: "100 tasks x 1000 acquire/release of one lock, one await inside",
    unit: "acquisitions/s",
    better: "higher",
    subjects: {
      aiots: lockAiots,
      "aiots/withLock": lockAiotsWithLock,
      raw: lockRaw,
      "async-mutex": lockAsyncMutex,
    },
  },
  "bounded-100k": {
    description: "100k jobs (one await each), at most 100 at once",
    unit: "jobs/s",
    better: "higher",
    subjects: {
      aiots: boundedAiots,
      "aiots/gather": boundedAiotsGather,
      "aiots/promises": boundedAiotsPromises,
      raw: boundedRaw,
      "p-limit": boundedPLimit,
      "p-queue": boundedPQueue,
      "async-mutex": boundedAsyncMutex,
    },
  },
};

// ---------------------------------------------------------------- standalone run

export interface SyncBenchRow {
  scenario: string;
  subject: string;
  /** Median of the measured runs, in the scenario's unit. */
  median: number;
  min: number;
  max: number;
  n: number;
  runs: number;
  error?: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function runChild(scenario: string, subject: string, args: string[]): Promise<ChildReport> {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--expose-gc", file, scenario, subject, ...args],
      { timeout: 120_000, killSignal: "SIGKILL", maxBuffer: 1 << 20 },
      (error, stdout) => {
        const line = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(line) as ChildReport);
        } catch {
          resolve({
            scenario,
            subject,
            node: process.version,
            samples: [],
            error: error?.message ?? "no result",
          });
        }
      },
    );
  });
}

/**
 * Measure every scenario above, one fresh child process per subject, and return the medians.
 * `args` are passed to the children (`--runs R`, `--warmup W`).
 */
export async function benchSync(args: string[] = []): Promise<SyncBenchRow[]> {
  const rows: SyncBenchRow[] = [];
  for (const [scenario, s] of Object.entries(scenarios)) {
    for (const subject of Object.keys(s.subjects)) {
      const report = await runChild(scenario, subject, args);
      const values = report.samples.map((x) => x.value);
      const row: SyncBenchRow = {
        scenario,
        subject,
        median: values.length > 0 ? median(values) : Number.NaN,
        min: values.length > 0 ? Math.min(...values) : Number.NaN,
        max: values.length > 0 ? Math.max(...values) : Number.NaN,
        n: report.samples[0]?.n ?? 0,
        runs: values.length,
      };
      if (report.error !== undefined) row.error = report.error.split("\n")[0] ?? "";
      rows.push(row);
    }
  }
  return rows;
}

function si(x: number): string {
  if (!Number.isFinite(x)) return "-";
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e5 ? 0 : 1)}k`;
  return x.toFixed(0);
}

/** The rows as a Markdown table, with each row's ratio to the scenario's aiots row. */
export function formatSyncBench(rows: SyncBenchRow[]): string {
  const lines = [
    "| scenario | subject | median | min..max | unit | vs aiots | n | runs |",
    "|---|---|---:|---:|---|---:|---:|---:|",
  ];
  for (const row of rows) {
    const base = rows.find((r) => r.scenario === row.scenario && r.subject === "aiots");
    const ratio = base !== undefined && base.median > 0 ? row.median / base.median : Number.NaN;
    const unit = scenarios[row.scenario]?.unit ?? "";
    const cells = row.error
      ? [row.scenario, row.subject, "FAILED", "", unit, "", "", "0"]
      : [
          row.scenario,
          row.subject,
          si(row.median),
          `${si(row.min)}..${si(row.max)}`,
          unit,
          Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : "-",
          si(row.n),
          String(row.runs),
        ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  for (const row of rows) {
    if (row.error) lines.push(`\n${row.scenario}/${row.subject} failed: ${row.error}`);
  }
  return lines.join("\n");
}

function isEntry(): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

const first = process.argv[2];
if (isEntry() && (first === undefined || first.startsWith("--"))) {
  // Standalone: `node bench/sync.bench.ts [--runs R] [--warmup W]`.
  const started = performance.now();
  const rows = await benchSync(process.argv.slice(2));
  console.log(formatSyncBench(rows));
  console.log(`\n${process.version}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (rows.some((r) => r.error !== undefined)) process.exitCode = 1;
} else {
  await childMain(import.meta.url, scenarios); // a child of the runner or of the standalone run
}
