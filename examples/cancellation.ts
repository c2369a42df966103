/**
 * Cancellation. `task.cancel()` throws `CancelledError` into the task at the await where it is
 * suspended; `finally` blocks run. Work that aiots does not know about (fetch, fs, child_process,
 * node:timers/promises) stops too when it is given the task's `signal`.
 *
 * Run: node examples/cancellation.ts
 */
import { setTimeout as delay } from "node:timers/promises";
import { createTask, currentTask, isCancelled, run, sleep, type Task } from "../src/index.ts";

async function worker(): Promise<void> {
  try {
    console.log("worker: sleeping for 10 s");
    await sleep(10_000);
    console.log("worker: woke up"); // never printed
  } catch (e) {
    if (isCancelled(e)) console.log(`worker: CancelledError at its await ("${e.message}")`);
    throw e; // re-throw: swallowing a cancellation would keep the task alive
  } finally {
    console.log("worker: finally block runs");
  }
}

async function foreignTimer(): Promise<void> {
  const { signal } = currentTask() as Task; // the task running this code
  try {
    console.log("foreign: node:timers/promises setTimeout of 10 s");
    await delay(10_000, undefined, { signal });
  } catch (e) {
    console.log(`foreign: timer aborted (${(e as Error).name})`);
    // The timer rejects with its own AbortError; signal.reason is our CancelledError, so this
    // ends the task as cancelled rather than failed.
    signal.throwIfAborted();
    throw e;
  }
}

async function main(): Promise<void> {
  const start = performance.now();
  for (const fn of [worker, foreignTimer]) {
    const task = createTask(fn);
    await sleep(50);
    task.cancel("stop now");
    try {
      await task;
    } catch (e) {
      if (!isCancelled(e)) throw e;
    }
    console.log(`main: ${fn.name} cancelled: ${task.cancelled()}`);
  }
  const ms = Math.round(performance.now() - start);
  console.log(`main: done after ${ms} ms, not 20 s`);
}

await run(main);
