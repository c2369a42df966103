/**
 * The benchmark registry and the child-process side of the harness.
 *
 * A benchmark file is `bench/<name>.bench.ts`. It exports `scenarios` (a `Scenarios` record)
 * and ends with `await childMain(import.meta.url, scenarios)`, so that it is both:
 * - a module the runner (`bench/run.ts`) imports to discover the scenarios, and
 * - a child process the runner starts once per scenario x subject:
 *       node --expose-gc bench/core.bench.ts <scenario> <subject> [--warmup W] [--runs R]
 *   which prints exactly one JSON line (a `ChildReport`) on stdout.
 *
 * This file loads nothing but Node built-ins (aiots only through `loadAiots()`), so a child
 * loads only what its subject needs.
 *
 * @module
 */
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** One measured run of a subject. */
export interface Sample {
  /** The figure, in the scenario's `unit` (operations per second, bytes per task, ...). */
  value: number;
  /** How many operations (tasks, hand-offs, ...) the run covered. */
  n: number;
}

/** One implementation of a scenario: does the work once and measures it. */
export type Subject = () => Promise<Sample>;

export interface Scenario {
  /** One line: what is measured. */
  description: string;
  /** The unit of `Sample.value`, e.g. "tasks/s", "B/task". */
  unit: string;
  /** Whether a larger value is better (throughput) or a smaller one (memory, latency). */
  better: "higher" | "lower";
  /** The subject the "vs aiots" ratio is computed against (default: the first subject). */
  baseline?: string;
  /** Measured runs per subject (default 5; the runner's `--runs` overrides it). */
  runs?: number;
  /** Unmeasured warm-up runs before them (default 1; the runner's `--warmup` overrides it). */
  warmup?: number;
  /**
   * Take the runs in rounds, one child per run, each round running every subject once (default:
   * one child per subject, all its runs in a row). For scenarios whose figures swing with the
   * machine's load (loopback I/O): the rows' medians then come from the same stretch of time.
   */
  interleave?: boolean;
  /** Extra node flags this scenario's children need (every child gets `--expose-gc`). */
  nodeFlags?: readonly string[];
  /** The implementations, by name: `aiots/...`, `raw/...`, then the peers. Order is kept. */
  subjects: Record<string, Subject>;
}

/** What a `*.bench.ts` file exports as `scenarios`. Scenario names are unique across files. */
export type Scenarios = Record<string, Scenario>;

/** Runs per subject when the scenario does not say. */
export const DEFAULT_RUNS = 5;
export const DEFAULT_WARMUP = 1;

/** The JSON line a child prints. */
export interface ChildReport {
  scenario: string;
  subject: string;
  node: string;
  /** The measured runs (warm-up runs excluded). */
  samples: Sample[];
  /** Set when the subject threw; `samples` holds the runs that succeeded before. */
  error?: string;
}

// ---------------------------------------------------------------- helpers for subjects

/** Ops per second from a count and a `performance.now()` interval. */
export function rate(n: number, start: number, end: number): Sample {
  const ms = end - start;
  return { value: ms > 0 ? (n * 1000) / ms : Number.POSITIVE_INFINITY, n };
}

const resolvedPromise = Promise.resolve();

/**
 * Submit `n` jobs, each awaiting one microtask, through `submit` (a limiter's `limit(job)`, a
 * semaphore's `withPermit(job)`, ...), join them with `Promise.all`, check that every job ran and
 * return the rate.
 */
export async function submitJobs(
  n: number,
  submit: (job: () => Promise<void>) => PromiseLike<unknown>,
): Promise<Sample> {
  let done = 0;
  const job = async (): Promise<void> => {
    await resolvedPromise;
    done++;
  };
  const start = performance.now();
  const promises: PromiseLike<unknown>[] = [];
  for (let i = 0; i < n; i++) promises.push(submit(job));
  await Promise.all(promises);
  const end = performance.now();
  check("jobs done", done, n);
  return rate(n, start, end);
}

/** Throw if a subject's bookkeeping shows that the work was not all done. */
export function check(label: string, actual: number, expected: number): void {
  if (actual !== expected) {
    throw new Error(`${label}: expected ${expected}, got ${actual}: the subject is broken`);
  }
}

/** A full, synchronous garbage collection (twice, so that finalizers' garbage goes too). */
export function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run the child with --expose-gc");
  gc();
  gc();
}

/** `process.memoryUsage().heapUsed` after a full GC. */
export function heapAfterGc(): number {
  fullGc();
  return process.memoryUsage().heapUsed;
}

/** Bytes per item from two `heapAfterGc()` readings. */
export function perItem(n: number, before: number, after: number): Sample {
  return { value: (after - before) / n, n };
}

/**
 * The URL of the aiots entry the children load: `src/index.ts` of this checkout, unless the
 * runner was given `--dist` or `--aiots <file>` (passed down as `AIOTS_BENCH_ENTRY`).
 */
export function aiotsEntry(): string {
  const entry = process.env.AIOTS_BENCH_ENTRY;
  if (entry !== undefined && entry !== "") return pathToFileURL(resolve(entry)).href;
  return new URL("../src/index.ts", import.meta.url).href;
}

/** The aiots module, as a type. */
export type Aiots = typeof import("../src/index.ts");

/**
 * Load aiots: this checkout's sources, or the entry given to the runner (`--dist`, `--aiots`).
 * Call it inside a subject, so that only the children that need aiots load it.
 */
export function loadAiots(): Promise<Aiots> {
  return import(aiotsEntry()) as Promise<Aiots>;
}

// ---------------------------------------------------------------- child main

function isEntry(moduleUrl: string): boolean {
  const argv1 = process.argv[1];
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

function intFlag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i === -1) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 0 || value > 1000) {
    throw new RangeError(`${name} must be an integer in 0..1000, got ${args[i + 1]}`);
  }
  return value;
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

/**
 * When `moduleUrl` is the process's entry file, run one subject `warmup + runs` times and print
 * one `ChildReport` line; otherwise do nothing (the file is being imported by the runner).
 */
export async function childMain(moduleUrl: string, scenarios: Scenarios): Promise<void> {
  if (!isEntry(moduleUrl)) return;
  const args = process.argv.slice(2);
  const [scenarioName, subjectName] = args;
  const scenario = scenarioName === undefined ? undefined : scenarios[scenarioName];
  const subject = subjectName === undefined ? undefined : scenario?.subjects[subjectName];
  if (scenario === undefined || subject === undefined) {
    const list = Object.entries(scenarios)
      .map(([name, s]) => `  ${name}: ${Object.keys(s.subjects).join(", ")}`)
      .join("\n");
    process.stderr.write(
      `usage: node --expose-gc <file> <scenario> <subject> [--warmup W] [--runs R]\n${list}\n`,
    );
    process.exitCode = 2;
    return;
  }
  const warmup = intFlag(args, "--warmup", scenario.warmup ?? DEFAULT_WARMUP);
  const runs = intFlag(args, "--runs", scenario.runs ?? DEFAULT_RUNS);
  const report: ChildReport = {
    scenario: scenarioName as string,
    subject: subjectName as string,
    node: process.version,
    samples: [],
  };
  try {
    for (let i = 0; i < warmup + runs; i++) {
      fullGc(); // every run starts from a clean heap, whatever the previous one left behind
      // ...and from a fresh event-loop turn: code that runs in the microtask chain of the
      // module's own top-level await is measurably slower (1M plain awaits: -25%).
      await new Promise<void>((resolve) => setImmediate(resolve));
      const sample = await subject();
      if (!(Number.isFinite(sample.value) && sample.n > 0)) {
        throw new Error(`bad sample ${JSON.stringify(sample)}`);
      }
      if (i >= warmup) report.samples.push(sample);
    }
  } catch (error) {
    report.error = describeError(error);
    process.exitCode = 1;
  }
  // Exit as soon as the line is out: a subject that left a timer or a handle behind must not
  // keep the child (and the runner) waiting.
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit());
}
