/**
 * `toThread`: run blocking or CPU-bound work on a worker thread and await its result
 * (asyncio.to_thread), on the running loop's default `WorkerPool`.
 *
 * Unlike Python, the work is really stopped when the awaiting task is cancelled (its worker is
 * terminated and replaced); `{ fn, onCancel: "finish" }` keeps asyncio's behaviour. And unlike a
 * Python thread, a worker shares no variables with the caller: the function travels as source
 * text and gets its inputs as (structured-cloned) arguments.
 *
 * @module
 */
import type { Transferable } from "node:worker_threads";
import { getRunningLoop } from "./core/context.ts";
import type { Future } from "./core/future.ts";
import { makeTransferMarker } from "./thread-protocol.ts";
import type { FunctionJob, Job, ModuleJob, ThreadFunction } from "./worker-pool.ts";

/**
 * Run `fn(...args)` on a worker thread of the running loop's default pool and return a Future
 * for its result. Mirrors `asyncio.to_thread`.
 *
 * **When to use**: for CPU-bound work (hashing, parsing, compression, number crunching) and for
 * blocking calls, which would otherwise stop every task on the loop.
 *
 * **The function runs in another thread**, so it must be self-contained: it is sent as source
 * text and may use its parameters and globals (`Math`, `JSON`, `Buffer`, `crypto`,
 * `await import("node:zlib")`), not variables from around it. Reading one fails with a
 * `ReferenceError` that names it and says how to fix it: pass it as an argument, or run a
 * module job, which may import anything:
 * `toThread({ module: new URL("./jobs.ts", import.meta.url), name: "hashFile" }, path)`.
 *
 * - Arguments and the result are structured-cloned (plain data, `Map`, `Set`, `Date`, typed
 *   arrays, errors); wrap an argument in `transfer()` to move its buffer instead of copying it,
 *   and `return this.transfer(result)` in the job to move a result back.
 * - An error thrown by `fn` is thrown here with its class (built-in and aiots errors), name,
 *   message and stack. A worker that dies fails the job with `WorkerCrashedError`.
 * - Cancelling the awaiting task (or a `timeout` around this call) **stops the job**: its worker
 *   is terminated and replaced. Pass `{ fn, onCancel: "finish" }` to let it finish instead and
 *   drop the result, as asyncio does. A job that has not started yet never starts.
 * - `AsyncLocalStorage` values do not reach the thread (asyncio copies contextvars): pass what
 *   the function needs as arguments.
 *
 * Use a `WorkerPool` (`pool.submit`, `loop.runInExecutor(pool, ...)`) to size the pool or to
 * keep workers across `run()` calls; the default pool has `os.availableParallelism()` workers,
 * starts them on demand and ends them when `run()` ends.
 *
 * @throws {RuntimeError} outside `run()`, or after the default pool was shut down.
 * @throws {TypeError} for a native, bound or class function, or an invalid job.
 * @example
 * const primes = await toThread((limit: number) => {
 *   let count = 0;
 *   for (let i = 2; i < limit; i++) {
 *     let prime = true;
 *     for (let d = 2; d * d <= i; d++) if (i % d === 0) { prime = false; break; }
 *     if (prime) count++;
 *   }
 *   return count;
 * }, 1_000_000); // 78498, while the loop keeps serving other tasks
 */
export function toThread<A extends unknown[], R>(
  fn: ThreadFunction<A, R> | FunctionJob<A, R>,
  ...args: A
): Future<Awaited<R>>;
export function toThread<R = unknown>(job: ModuleJob, ...args: unknown[]): Future<R>;
export function toThread(job: Job, ...args: unknown[]): Future<unknown> {
  const loop = getRunningLoop();
  return loop._defaultExecutor()._submit(loop, job, args, "toThread()");
}

/**
 * Mark `value` to be **moved** to the other thread instead of copied: as an argument of
 * `toThread`/`submit`/`runInExecutor`, or returned by a job as `this.transfer(value)`.
 * `transferList` defaults to the value's own buffer for an `ArrayBuffer`, a typed array or a
 * `MessagePort`; for anything else, list the buffers to move. A moved buffer is detached on the
 * sending side (its `byteLength` becomes 0).
 *
 * Only top-level arguments are looked at; the marker is not meant to be used any other way.
 *
 * @throws {TypeError} if `transferList` is missing for a value that is not a buffer or a port.
 * @example
 * const pixels = new Uint8Array(4_000_000);
 * const inverted = await toThread(function (p: Uint8Array) {
 *   for (let i = 0; i < p.length; i++) p[i] = 255 - (p[i] as number);
 *   return this.transfer(p);
 * }, transfer(pixels)); // no copy either way; `pixels` is now detached
 */
export function transfer<T>(value: T, transferList?: readonly Transferable[]): T {
  return makeTransferMarker(value, transferList);
}
