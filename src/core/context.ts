/**
 * The two pieces of ambient state: which loop is running, and which task is current.
 *
 * The current task travels with the async context (AsyncLocalStorage), so it is still known
 * after any number of nested `await`s inside the task's code. On Node 24+ that costs next to
 * nothing (AsyncContextFrame); on Node 22 it needs `--experimental-async-context-frame` to be as
 * cheap, see the README.
 *
 * @internal
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { RuntimeError } from "../errors.ts";
import type { Loop } from "./loop.ts";
import type { Task } from "./task.ts";

/** The store is the task whose code is running in this async context. */
export const taskStorage: AsyncLocalStorage<Task<unknown>> = new AsyncLocalStorage();

let runningLoop: Loop | undefined;

/**
 * True while the loop runs its internal callbacks. They run in whatever async context started
 * the iteration (often some task's), so the current task must be hidden from them: code they
 * call (a `then` handler, say) is not running in that task.
 */
let inLoopCallbacks = false;

/** @internal */
export function setInLoopCallbacks(value: boolean): boolean {
  const previous = inLoopCallbacks;
  inLoopCallbacks = value;
  return previous;
}

/** The task whose code is running here, if any (not done-checked). */
export function storedTask(): Task<unknown> | undefined {
  return inLoopCallbacks ? undefined : taskStorage.getStore();
}

export function setRunningLoop(loop: Loop | undefined): void {
  runningLoop = loop;
}

/** The running loop, or undefined. */
export function peekRunningLoop(): Loop | undefined {
  return runningLoop;
}

/**
 * The loop of the `run()` in progress. Mirrors `asyncio.get_running_loop()`.
 *
 * @throws {RuntimeError} outside `run()`.
 */
export function getRunningLoop(): Loop {
  if (runningLoop === undefined) throw new RuntimeError("no running event loop");
  return runningLoop;
}
