/**
 * `shield`: protect an awaitable from the cancellation of whoever awaits it (asyncio.shield).
 *
 * @module
 */
import { getRunningLoop } from "./core/context.ts";
import { type Awaitable, ensureFuture } from "./core/ensure-future.ts";
import { CANCELLED, type CallbackFn, Future, REJECTED } from "./core/future.ts";

/** @internal The future each shield wraps (for the call graph: the inner is awaited by it). */
export const shieldedBy: WeakMap<Future<unknown>, Future<unknown>> = new WeakMap();

interface Pair {
  readonly inner: Future<unknown>;
  readonly outer: Future<unknown>;
}

function innerDone({ inner, outer }: Pair): void {
  if (outer.done()) return;
  if (inner._state === CANCELLED) outer.cancel();
  else if (inner._state === REJECTED) {
    inner._markRetrieved();
    outer._reject(inner._result);
  } else outer._resolve(inner._result);
}

function outerDone(pair: Pair): void {
  // The outer was cancelled first: stop listening, so that an error of the inner that nobody
  // else retrieves is reported as never retrieved rather than silently dropped.
  if (!pair.inner.done()) pair.inner._removeCallback(innerDone as CallbackFn, pair);
}

/**
 * Await `aw` without letting a cancellation of the awaiting task reach it: the awaiting task
 * gets `CancelledError`, `aw` keeps running. Mirrors `asyncio.shield`.
 *
 * A function argument is started as a task; keep a reference to it if you need its result after
 * a cancellation.
 *
 * @example
 * const save = createTask(saveToDisk);
 * await shield(save); // cancelling us does not interrupt the save
 */
export function shield<T>(aw: Awaitable<T>): Future<T> {
  const loop = getRunningLoop();
  const inner = ensureFuture(aw, loop, "shield()") as Future<unknown>;
  if (inner.done()) return inner as Future<T>;
  const outer = new Future<unknown>(loop);
  shieldedBy.set(outer, inner);
  const pair: Pair = { inner, outer };
  inner._addCallback(innerDone as CallbackFn, pair);
  outer._addCallback(outerDone as CallbackFn, pair);
  return outer as Future<T>;
}
