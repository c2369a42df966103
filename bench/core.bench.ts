/**
 * Core runtime benchmarks (issue 2, "Performance"): spawn-join, hand-off, memory per sleeping
 * task. aiots against raw promises, p-limit, Effect 4 and Effection 4.
 *
 * Each subject loads its library lazily, so a child process holds only what it measures. Each
 * subject checks that the work was really done (every task ran, every hand-off happened) and
 * throws otherwise: a broken subject must not show up as a fast one.
 *
 * Run through the runner (`npm run bench`), or one subject by hand:
 *     node --expose-gc bench/core.bench.ts spawn-join aiots/taskGroup --runs 3
 *
 * @module
 */
import type { Fiber } from "effect";
import type { Task as EffectionTask } from "effection";
import type { Task } from "../src/index.ts";
import {
  check,
  childMain,
  heapAfterGc,
  loadAiots,
  perItem,
  rate,
  type Sample,
  type Scenarios,
  submitJobs,
} from "./harness.ts";

/** Tasks per spawn-join run. */
const SPAWN_N = 100_000;
/** Effection spawns about 4k tasks/s: 100k would take 25 s a run. */
const SPAWN_N_EFFECTION = 5_000;
/** Hand-offs per run. */
const HANDOFF_N = 1_000_000;
/** The peers run far fewer hand-offs/s; their runs are shortened to stay within budget. */
const HANDOFF_N_EFFECT = 200_000;
const HANDOFF_N_EFFECTION = 200_000;
/** Plain awaits per await-tax run. */
const AWAIT_N = 1_000_000;
/** sleep(0) in a loop. */
const YIELD_N = 500_000;
/** Sleeping tasks per memory run. */
const MEMORY_N = 100_000;
/** Effection spawns about 4k tasks/s (and ~11 KB each): 5k keep a run near 1.5 s. */
const MEMORY_N_EFFECTION = 5_000;
/** How long every sleeper sleeps: far beyond the measurement, which cancels them all. */
const SLEEP_MS = 60_000;
/** A short real sleep after spawning, so that every task has started and is suspended. */
const SETTLE_MS = 50;

/** Awaiting it costs one microtask tick, like `await null` (which the lint forbids). */
const resolved = Promise.resolve();

/** A packed array of `n` empty slots, allocated before the heap baseline is taken. */
function slots<T>(n: number): (T | undefined)[] {
  return Array.from<T | undefined>({ length: n });
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

// ---------------------------------------------------------------- spawn-join

function spawnAiotsTaskGroup(): Promise<Sample> {
  return spawnTaskGroup(false);
}

/** The same with debug mode on: its checks (slow steps, swallowed cancellations) cost this. */
function spawnAiotsTaskGroupDebug(): Promise<Sample> {
  return spawnTaskGroup(true);
}

async function spawnTaskGroup(debug: boolean): Promise<Sample> {
  const { run, sleep, taskGroup } = await loadAiots();
  return run(
    async () => {
      let done = 0;
      const start = performance.now();
      await taskGroup(async (tg) => {
        for (let i = 0; i < SPAWN_N; i++) {
          tg.createTask(async () => {
            await sleep(0);
            done++;
          });
        }
      });
      const end = performance.now();
      check("tasks done", done, SPAWN_N);
      return rate(SPAWN_N, start, end);
    },
    { debug },
  );
}

async function spawnAiotsGather(): Promise<Sample> {
  const { createTask, gather, run, sleep } = await loadAiots();
  return run(async () => {
    let done = 0;
    const start = performance.now();
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < SPAWN_N; i++) {
      tasks.push(
        createTask(async () => {
          await sleep(0);
          done++;
        }),
      );
    }
    await gather(tasks);
    const end = performance.now();
    check("tasks done", done, SPAWN_N);
    return rate(SPAWN_N, start, end);
  });
}

async function spawnRawMicrotask(): Promise<Sample> {
  let done = 0;
  const start = performance.now();
  const promises: Promise<void>[] = [];
  for (let i = 0; i < SPAWN_N; i++) {
    promises.push(
      (async () => {
        await resolved;
        done++;
      })(),
    );
  }
  await Promise.all(promises);
  const end = performance.now();
  check("functions done", done, SPAWN_N);
  return rate(SPAWN_N, start, end);
}

async function spawnRawSetImmediate(): Promise<Sample> {
  let done = 0;
  const start = performance.now();
  const promises: Promise<void>[] = [];
  for (let i = 0; i < SPAWN_N; i++) {
    promises.push(
      (async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        done++;
      })(),
    );
  }
  await Promise.all(promises);
  const end = performance.now();
  check("functions done", done, SPAWN_N);
  return rate(SPAWN_N, start, end);
}

async function spawnPLimit(): Promise<Sample> {
  const { default: pLimit } = await import("p-limit");
  const limit = pLimit(SPAWN_N);
  return submitJobs(SPAWN_N, (job) => limit(job));
}

async function spawnEffect(): Promise<Sample> {
  const { Effect } = await import("effect");
  const items = range(SPAWN_N);
  const program = Effect.forEach(items, () => Effect.yieldNow, { concurrency: "unbounded" });
  const start = performance.now();
  const results = await Effect.runPromise(program);
  const end = performance.now();
  check("fibers done", results.length, SPAWN_N);
  return rate(SPAWN_N, start, end);
}

async function spawnEffection(): Promise<Sample> {
  const { run, sleep, spawn } = await import("effection");
  return run(function* () {
    let done = 0;
    const start = performance.now();
    const tasks: EffectionTask<void>[] = [];
    for (let i = 0; i < SPAWN_N_EFFECTION; i++) {
      tasks.push(
        yield* spawn(function* () {
          yield* sleep(0);
          done++;
        }),
      );
    }
    for (const task of tasks) yield* task;
    const end = performance.now();
    check("tasks done", done, SPAWN_N_EFFECTION);
    return rate(SPAWN_N_EFFECTION, start, end);
  });
}

// ---------------------------------------------------------------- handoff
//
// Two tasks pass a turn back and forth through one-shot futures. A resolves `toB` and waits on
// `toA`; B wakes, makes a fresh `toB`, resolves `toA`, and waits on the fresh `toB`; and so on.
// Each side replaces its own future before it can be resolved again, so every resolution wakes
// the other side exactly once: one hand-off.

async function handoffAiots(): Promise<Sample> {
  const { Future, createTask, gather, run } = await loadAiots();
  return run(async () => {
    const rounds = HANDOFF_N / 2;
    let toA = new Future<number>();
    let toB = new Future<number>();
    let handoffs = 0;
    const start = performance.now();
    const b = createTask(async () => {
      for (let i = 0; i < rounds; i++) {
        await toB;
        handoffs++;
        toB = new Future<number>();
        toA.setResult(i);
      }
    });
    const a = createTask(async () => {
      for (let i = 0; i < rounds; i++) {
        toB.setResult(i);
        await toA;
        handoffs++;
        toA = new Future<number>();
      }
    });
    await gather(a, b);
    const end = performance.now();
    check("hand-offs", handoffs, HANDOFF_N);
    return rate(HANDOFF_N, start, end);
  });
}

async function handoffRaw(): Promise<Sample> {
  const rounds = HANDOFF_N / 2;
  let toA = Promise.withResolvers<number>();
  let toB = Promise.withResolvers<number>();
  let handoffs = 0;
  const start = performance.now();
  const b = (async () => {
    for (let i = 0; i < rounds; i++) {
      await toB.promise;
      handoffs++;
      toB = Promise.withResolvers<number>();
      toA.resolve(i);
    }
  })();
  const a = (async () => {
    for (let i = 0; i < rounds; i++) {
      toB.resolve(i);
      await toA.promise;
      handoffs++;
      toA = Promise.withResolvers<number>();
    }
  })();
  await Promise.all([a, b]);
  const end = performance.now();
  check("hand-offs", handoffs, HANDOFF_N);
  return rate(HANDOFF_N, start, end);
}

async function handoffEffect(): Promise<Sample> {
  const { Deferred, Effect, Fiber } = await import("effect");
  const n = HANDOFF_N_EFFECT;
  const rounds = n / 2;
  let toA = Deferred.makeUnsafe<number>();
  let toB = Deferred.makeUnsafe<number>();
  let handoffs = 0;
  const program = Effect.gen(function* () {
    const b = yield* Effect.forkChild(
      Effect.gen(function* () {
        for (let i = 0; i < rounds; i++) {
          yield* Deferred.await(toB);
          handoffs++;
          toB = Deferred.makeUnsafe<number>();
          yield* Deferred.succeed(toA, i);
        }
      }),
    );
    const a = yield* Effect.forkChild(
      Effect.gen(function* () {
        for (let i = 0; i < rounds; i++) {
          yield* Deferred.succeed(toB, i);
          yield* Deferred.await(toA);
          handoffs++;
          toA = Deferred.makeUnsafe<number>();
        }
      }),
    );
    yield* Fiber.join(a);
    yield* Fiber.join(b);
  });
  const start = performance.now();
  await Effect.runPromise(program);
  const end = performance.now();
  check("hand-offs", handoffs, n);
  return rate(n, start, end);
}

async function handoffEffection(): Promise<Sample> {
  const { run, spawn, withResolvers } = await import("effection");
  const n = HANDOFF_N_EFFECTION;
  const rounds = n / 2;
  return run(function* () {
    let toA = withResolvers<number>();
    let toB = withResolvers<number>();
    let handoffs = 0;
    const start = performance.now();
    const b = yield* spawn(function* () {
      for (let i = 0; i < rounds; i++) {
        yield* toB.operation;
        handoffs++;
        toB = withResolvers<number>();
        toA.resolve(i);
      }
    });
    const a = yield* spawn(function* () {
      for (let i = 0; i < rounds; i++) {
        toB.resolve(i);
        yield* toA.operation;
        handoffs++;
        toA = withResolvers<number>();
      }
    });
    yield* a;
    yield* b;
    const end = performance.now();
    check("hand-offs", handoffs, n);
    return rate(n, start, end);
  });
}

// ---------------------------------------------------------------- await-tax
//
// Plain async code, no aiots primitive: one async function awaiting a resolved promise 1M
// times, outside aiots and inside an aiots task. The difference is what aiots's
// AsyncLocalStorage costs every await of the user's own code: next to nothing on Node 24, a lot
// on Node 22 unless it runs with --experimental-async-context-frame.

async function plainAwaits(n: number): Promise<number> {
  let count = 0;
  for (let i = 0; i < n; i++) {
    await resolved;
    count++;
  }
  return count;
}

async function awaitTaxAiots(): Promise<Sample> {
  const { run } = await loadAiots();
  return run(async () => {
    const start = performance.now();
    const count = await plainAwaits(AWAIT_N);
    const end = performance.now();
    check("awaits", count, AWAIT_N);
    return rate(AWAIT_N, start, end);
  });
}

async function awaitTaxRaw(): Promise<Sample> {
  const start = performance.now();
  const count = await plainAwaits(AWAIT_N);
  const end = performance.now();
  check("awaits", count, AWAIT_N);
  return rate(AWAIT_N, start, end);
}

// ---------------------------------------------------------------- yield-loop
//
// One task yields to the loop N times in a row: aiots `await sleep(0)` (which lets timers and
// I/O run, see SLICE_MS in loop.ts) against the raw form that also lets them run.

async function yieldLoopAiots(): Promise<Sample> {
  const { run, sleep } = await loadAiots();
  return run(async () => {
    const start = performance.now();
    let count = 0;
    for (let i = 0; i < YIELD_N; i++) {
      await sleep(0);
      count++;
    }
    const end = performance.now();
    check("yields", count, YIELD_N);
    return rate(YIELD_N, start, end);
  });
}

async function yieldLoopRaw(): Promise<Sample> {
  const start = performance.now();
  let count = 0;
  for (let i = 0; i < YIELD_N; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    count++;
  }
  const end = performance.now();
  check("yields", count, YIELD_N);
  return rate(YIELD_N, start, end);
}

// ---------------------------------------------------------------- memory
//
// Heap used after a full GC, before and after starting N tasks that sleep 60 s, divided by N.
// The array that holds the N handles is allocated before the baseline, so it is not counted;
// what is counted is everything a sleeping task keeps alive (its task object, its suspended
// async function, its timer entry). The sleepers are cancelled afterwards (not measured).

/** `createTask(() => sleep(ms))`, or with `asyncFn` the raw subject's shape: an async function. */
async function memoryAiots(asyncFn: boolean): Promise<Sample> {
  const { createTask, gather, run, sleep } = await loadAiots();
  const body = asyncFn
    ? async (): Promise<void> => {
        await sleep(SLEEP_MS);
      }
    : (): Promise<void> => sleep(SLEEP_MS);
  return run(async () => {
    const tasks = slots<Task<void>>(MEMORY_N);
    const before = heapAfterGc();
    for (let i = 0; i < MEMORY_N; i++) tasks[i] = createTask(body);
    await sleep(SETTLE_MS);
    const after = heapAfterGc();
    const all = tasks as Task<void>[];
    for (const task of all) task.cancel();
    const outcomes = await gather(all, { returnExceptions: true });
    check("cancelled", all.filter((t) => t.cancelled()).length, MEMORY_N);
    check("outcomes", outcomes.length, MEMORY_N);
    return perItem(MEMORY_N, before, after);
  });
}

async function memoryRaw(): Promise<Sample> {
  const promises = slots<Promise<void>>(MEMORY_N);
  const timers = slots<NodeJS.Timeout>(MEMORY_N);
  const sleeper = async (i: number): Promise<void> => {
    await new Promise<void>((resolve) => {
      timers[i] = setTimeout(resolve, SLEEP_MS);
    });
  };
  const before = heapAfterGc();
  for (let i = 0; i < MEMORY_N; i++) promises[i] = sleeper(i);
  await new Promise<void>((resolve) => setTimeout(resolve, SETTLE_MS));
  const after = heapAfterGc();
  let cleared = 0;
  for (const timer of timers) {
    clearTimeout(timer);
    cleared++;
  }
  check("timers cleared", cleared, MEMORY_N);
  return perItem(MEMORY_N, before, after);
}

async function memoryEffect(): Promise<Sample> {
  const { Effect, Fiber } = await import("effect");
  type F = Fiber.Fiber<void>;
  const program = Effect.gen(function* () {
    const fibers = slots<F>(MEMORY_N);
    const before = heapAfterGc();
    for (let i = 0; i < MEMORY_N; i++) {
      fibers[i] = yield* Effect.forkChild(Effect.sleep(`${SLEEP_MS / 1000} seconds`));
    }
    yield* Effect.sleep(SETTLE_MS);
    const after = heapAfterGc();
    yield* Fiber.interruptAll(fibers as F[]);
    return perItem(MEMORY_N, before, after);
  });
  return Effect.runPromise(program);
}

async function memoryEffection(): Promise<Sample> {
  const { run, sleep, spawn } = await import("effection");
  const n = MEMORY_N_EFFECTION;
  return run(function* () {
    const tasks = slots<EffectionTask<void>>(n);
    const before = heapAfterGc();
    for (let i = 0; i < n; i++) tasks[i] = yield* spawn(() => sleep(SLEEP_MS));
    yield* sleep(SETTLE_MS);
    const after = heapAfterGc();
    return perItem(n, before, after); // leaving run() halts the sleepers
  });
}

// ---------------------------------------------------------------- registry

export const scenarios: Scenarios = {
  "spawn-join": {
    description: `spawn ${SPAWN_N / 1000}k tasks that each await one tick, then join them all`,
    unit: "tasks/s",
    better: "higher",
    baseline: "aiots/taskGroup",
    subjects: {
      "aiots/taskGroup": spawnAiotsTaskGroup,
      "aiots/debug": spawnAiotsTaskGroupDebug,
      "aiots/gather": spawnAiotsGather,
      "raw/microtask": spawnRawMicrotask,
      "raw/setImmediate": spawnRawSetImmediate,
      "p-limit": spawnPLimit,
      effect: spawnEffect,
      effection: spawnEffection,
    },
  },
  handoff: {
    description: `two tasks pass a turn through one-shot futures, ${HANDOFF_N / 1e6}M hand-offs`,
    unit: "hand-offs/s",
    better: "higher",
    baseline: "aiots",
    subjects: {
      aiots: handoffAiots,
      raw: handoffRaw,
      effect: handoffEffect,
      effection: handoffEffection,
    },
  },
  "await-tax": {
    description: `${AWAIT_N / 1e6}M plain awaits in user code, inside an aiots task and outside aiots`,
    unit: "awaits/s",
    better: "higher",
    baseline: "aiots",
    subjects: {
      aiots: awaitTaxAiots,
      raw: awaitTaxRaw,
    },
  },
  "yield-loop": {
    description: `one task yields to the loop ${YIELD_N / 1000}k times in a row (sleep(0))`,
    unit: "yields/s",
    better: "higher",
    baseline: "aiots",
    subjects: {
      aiots: yieldLoopAiots,
      "raw/setImmediate": yieldLoopRaw,
    },
  },
  memory: {
    description: `heap per task for ${MEMORY_N / 1000}k tasks sleeping on a ${SLEEP_MS / 1000} s timer`,
    unit: "B/task",
    better: "lower",
    // The figure barely moves between runs (and a run takes seconds): two runs show that.
    runs: 2,
    baseline: "aiots",
    subjects: {
      aiots: () => memoryAiots(false),
      "aiots/async-fn": () => memoryAiots(true),
      raw: memoryRaw,
      effect: memoryEffect,
      effection: memoryEffection,
    },
  },
};

await childMain(import.meta.url, scenarios);
