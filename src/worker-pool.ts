/**
 * A pool of worker threads for blocking and CPU-bound work (concurrent.futures'
 * ThreadPoolExecutor, as asyncio's `run_in_executor` uses it).
 *
 * Unlike Python's threads, a worker can be stopped: cancelling a job that is running terminates
 * its worker (and starts a fresh one when needed), so a `timeout` around a job really ends the
 * work. `onCancel: "finish"` keeps asyncio's behaviour instead: the job finishes and its result
 * is dropped. A job that has not started is simply taken back, in both modes.
 *
 * Jobs are functions sent as source text (self-contained: no closures) or exports of a module
 * named by URL. Each worker takes up to `WINDOW` jobs ahead (see thread-protocol.ts), so tiny
 * jobs do not wait for a round trip each; an idle worker takes back queued jobs from a busy one.
 *
 * @module
 */
import { availableParallelism } from "node:os";
import { isAbsolute } from "node:path";
import { pathToFileURL } from "node:url";
import { type ResourceLimits, type Transferable, Worker } from "node:worker_threads";
import { getRunningLoop } from "./core/context.ts";
import { Future } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import {
  BrokenBarrierError,
  CancelledError,
  ExceptionGroup,
  IncompleteReadError,
  InvalidStateError,
  KeyboardInterrupt,
  LimitOverrunError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  RuntimeError,
  TimeoutError,
} from "./errors.ts";
import {
  DEFINE,
  type DefineMessage,
  DONE,
  ERR,
  FN,
  type JobMessage,
  MOD,
  QUEUED,
  REVOKED,
  type ReplyMessage,
  RUNNING,
  SERIALIZED,
  type SerializedError,
  TRANSFER,
  TRANSFER_KEY,
  type TransferMarker,
  WINDOW,
} from "./thread-protocol.ts";
import { checkInteger, checkOptions, rangeError, typeError } from "./validate.ts";
import { type WorkerConstants, workerMain } from "./worker-entry.ts";

// ---------------------------------------------------------------- public types

/** What cancelling a running job does: stop it (terminate its worker), or let it finish. */
export type CancelMode = "terminate" | "finish";

/** What `this` is inside a job. */
export interface ThreadContext {
  /**
   * Move `value` back to the main thread instead of copying it: `return this.transfer(buf)`.
   * See `transfer()`.
   */
  transfer<T>(value: T, transferList?: readonly Transferable[]): T;
}

/**
 * A self-contained function to run on a worker thread: it is sent as source text, so it may use
 * its parameters and globals only, not variables from around it.
 */
// biome-ignore lint/suspicious/noExplicitAny: parameter types are the caller's to choose.
export type ThreadFunction<A extends unknown[] = any[], R = unknown> = (
  this: ThreadContext,
  ...args: A
) => R;

/** A function job with options. */
// biome-ignore lint/suspicious/noExplicitAny: parameter types are the caller's to choose.
export interface FunctionJob<A extends unknown[] = any[], R = unknown> {
  fn: ThreadFunction<A, R>;
  /** What cancelling the job while it runs does (default `"terminate"`). */
  onCancel?: CancelMode | undefined;
}

/**
 * A job that is an export of a module, for code with imports: `{ module: new
 * URL("./jobs.ts", import.meta.url), name: "hashFile" }`. The module is imported once per worker.
 */
export interface ModuleJob {
  /** The module: a URL (`file:` or `data:`) or an absolute path. `.ts` works on Node >= 22.18. */
  module: URL | string;
  /** The export to call (default `"default"`). */
  name?: string | undefined;
  /** What cancelling the job while it runs does (default `"terminate"`). */
  onCancel?: CancelMode | undefined;
}

/** Anything a pool can run: a function, a function with options, or a module export. */
export type Job = ThreadFunction | FunctionJob | ModuleJob;

/** Options of `new WorkerPool()`. */
export interface WorkerPoolOptions {
  /** How many worker threads at most (default `os.availableParallelism()`). */
  size?: number | undefined;
  /** The workers' names are `<name>-<n>` (default `"aiots"`), as Python's `thread_name_prefix`. */
  name?: string | undefined;
  /** Memory limits of each worker; a job that exceeds them fails and its worker is replaced. */
  resourceLimits?: ResourceLimits | undefined;
}

/** Options of `pool.shutdown()`. */
export interface ShutdownOptions {
  /** Cancel the jobs that have not started yet (Python's `cancel_futures`). Default false. */
  cancelFutures?: boolean | undefined;
}

/** What `pool.statistics()` returns. */
export interface WorkerPoolStatistics {
  /** The most workers the pool runs at once. */
  readonly size: number;
  /** Worker threads alive now (starting, busy or idle). */
  readonly workers: number;
  /** Of those, how many have a job. */
  readonly busy: number;
  /** Jobs waiting for a worker. */
  readonly queued: number;
  /** Jobs handed to a worker and not answered yet (started or next in its line). */
  readonly running: number;
  /** Jobs that succeeded. */
  readonly completed: number;
  /** Jobs that failed (threw, or their worker crashed). */
  readonly failed: number;
  /** Jobs cancelled before they were answered. */
  readonly cancelled: number;
  /** Workers started since the pool was created. */
  readonly started: number;
  /** Workers that died on their own (crash, `process.exit()`, out of memory) and were replaced. */
  readonly crashed: number;
  /** Workers terminated to stop a cancelled job. */
  readonly terminated: number;
}

/**
 * A job's worker died under it: the job called `process.exit()`, ran out of memory (the pool's
 * `resourceLimits`), or an error escaped outside the job (a timer callback that threw). `cause`
 * is the worker's error, when there is one. The pool replaces the worker and keeps working.
 */
export class WorkerCrashedError extends RuntimeError {
  override readonly code: string = "AIOTS_ERR_WORKER_CRASHED";
  /** The worker's exit code. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}
Object.defineProperty(WorkerCrashedError.prototype, "name", {
  value: "WorkerCrashedError",
  writable: true,
  configurable: true,
});

// ---------------------------------------------------------------- function registry

/**
 * What each worker runs: `workerMain` from its source text, which is plain JavaScript by now
 * (whether this module was loaded from TypeScript or from the build), with the protocol's
 * constants. Built once, on first use.
 */
let workerSource: string | undefined;

function getWorkerSource(): string {
  const constants: WorkerConstants = {
    DEFINE,
    FN,
    ERR,
    QUEUED,
    RUNNING,
    DONE,
    SERIALIZED,
    TRANSFER_KEY,
  };
  workerSource ??= `"use strict";\n(${workerMain.toString()})(require("node:worker_threads"), ${JSON.stringify(constants)});\n`;
  return workerSource;
}

/** A function or a module export, as workers know it: sent once per worker, then named by id. */
interface Definition {
  readonly id: number;
  readonly kind: typeof FN | typeof MOD;
  /** The source (function) or the URL (module). */
  readonly text: string;
  /** The function's name, or the export's. */
  readonly name: string;
}

// Closures made from the same code (an arrow function written inside a loop) share one
// definition through `bySource`; module exports are keyed by URL and name.
const byFunction = new WeakMap<object, Definition>();
const byText = new Map<string, Definition>();
let nextId = 0;

function define(kind: typeof FN | typeof MOD, text: string, name: string): Definition {
  const key = kind === FN ? text : `${name}@${text}`;
  let definition = byText.get(key);
  if (definition === undefined) {
    definition = { id: nextId++, kind, text, name };
    byText.set(key, definition);
  }
  return definition;
}

function functionDefinition(fn: (...args: never[]) => unknown, where: string): Definition {
  let definition = byFunction.get(fn);
  if (definition !== undefined) return definition;
  const source = Function.prototype.toString.call(fn);
  if (source.endsWith("{ [native code] }")) {
    throw typeError(
      where,
      "fn",
      "a function written in JavaScript (a native or bound function cannot be sent to a thread)",
      fn,
    );
  }
  if (/^class[\s{]/.test(source)) throw typeError(where, "fn", "a function, not a class", fn);
  definition = define(FN, source, fn.name);
  byFunction.set(fn, definition);
  return definition;
}

function moduleUrl(module: unknown, where: string): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== "string") {
    throw typeError(where, "module", "a URL or an absolute path", module);
  }
  if (isAbsolute(module)) return pathToFileURL(module).href;
  if (/^(file|data|node):/.test(module)) return module;
  throw rangeError(
    where,
    "module",
    'a URL or an absolute path (write new URL("./jobs.ts", import.meta.url))',
    module,
  );
}

function cancelMode(value: unknown, where: string): CancelMode {
  if (value === undefined || value === "terminate") return "terminate";
  if (value === "finish") return "finish";
  throw rangeError(where, "onCancel", '"terminate" or "finish"', value);
}

// ---------------------------------------------------------------- errors from workers

const builtinErrors: Record<string, new (message?: string, options?: ErrorOptions) => Error> = {
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
};

// aiots' own errors come back as themselves (matched by name), whatever their constructor takes.
const aiotsErrors: Record<string, abstract new (...args: never[]) => Error> = {
  BrokenBarrierError,
  CancelledError,
  IncompleteReadError,
  InvalidStateError,
  KeyboardInterrupt,
  LimitOverrunError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  RuntimeError,
  TimeoutError,
  WorkerCrashedError,
};

function isSerializedError(value: unknown): value is SerializedError {
  return typeof value === "object" && value !== null && SERIALIZED in value;
}

/** Rebuild an error sent by a worker: same class where possible, name, message, stack, fields. */
function reviveError(payload: unknown): unknown {
  if (!isSerializedError(payload)) return payload;
  const options: ErrorOptions | undefined =
    payload.cause === undefined ? undefined : { cause: reviveError(payload.cause) };
  let error: Error;
  const errors = payload.errors?.map(reviveError);
  if (errors !== undefined) {
    error =
      payload.name === "ExceptionGroup" && errors.length > 0
        ? Reflect.construct(AggregateError, [errors, payload.message, options], ExceptionGroup)
        : new AggregateError(errors, payload.message, options);
    if (error instanceof ExceptionGroup) {
      Object.defineProperty(error, "exceptions", { value: errors, enumerable: true });
    }
  } else if (Object.hasOwn(builtinErrors, payload.name)) {
    error = new (builtinErrors[payload.name] as typeof Error)(payload.message, options);
  } else if (Object.hasOwn(aiotsErrors, payload.name)) {
    // Build a real Error whose prototype is the aiots class, without running its constructor.
    error = Reflect.construct(
      Error,
      [payload.message, options],
      aiotsErrors[payload.name] as never,
    );
  } else {
    error = new Error(payload.message, options);
    error.name = payload.name;
  }
  for (const [key, value] of Object.entries(payload.fields)) {
    if (key !== "name") (error as unknown as Record<string, unknown>)[key] = value;
  }
  if (payload.stack !== undefined) error.stack = payload.stack;
  return error;
}

// ---------------------------------------------------------------- jobs

/**
 * The Future of one job, and the job itself. Cancelling it (directly, or by cancelling the task
 * that awaits it) takes the job back, or stops it.
 */
class JobFuture<T = unknown> extends Future<T> {
  /** @internal */ readonly _pool: WorkerPool;
  /** @internal what to run */ readonly _definition: Definition;
  /** @internal `[slot, id, ...args]`, the slot filled in when posted */
  readonly _message: JobMessage;
  /** @internal moved, not copied: such a job can be posted once only */
  readonly _transfer: Transferable[] | undefined;
  /** @internal */ readonly _mode: CancelMode;
  /** @internal the worker it was posted to, if any */ _worker: PoolWorker | undefined = undefined;
  /** @internal its slot there */ _slot = -1;

  constructor(
    loop: Loop,
    pool: WorkerPool,
    definition: Definition,
    message: JobMessage,
    transfer: Transferable[] | undefined,
    mode: CancelMode,
  ) {
    super(loop);
    this._pool = pool;
    this._definition = definition;
    this._message = message;
    this._transfer = transfer;
    this._mode = mode;
  }

  override cancel(msg?: string): boolean {
    if (!super.cancel(msg)) return false;
    this._pool._jobCancelled(this as JobFuture);
    return true;
  }

  override toString(): string {
    const { kind, text, name } = this._definition;
    const what =
      kind === MOD ? `${text.slice(text.lastIndexOf("/") + 1)}#${name}` : name || "anonymous";
    const state = this.done() ? (this.cancelled() ? "cancelled" : "finished") : "pending";
    return `<Future ${state} thread job ${what}>`;
  }
}

/** One worker thread and its window of posted jobs (a ring: replies come back in order). */
class PoolWorker {
  readonly worker: Worker;
  readonly slots: Int32Array;
  readonly jobs: (JobFuture | undefined)[] = Array.from<JobFuture | undefined>({ length: WINDOW });
  /** Sequence numbers: `head` is the oldest unanswered job, `tail` the next to post. */
  head = 0;
  tail = 0;
  /** The definitions this worker has been sent. */
  readonly known: Set<number> = new Set();
  /** Being terminated, or about to be: no more jobs go to it. */
  retiring = false;
  /** The pool terminated it (not a crash). */
  terminating = false;
  online = false;
  error: unknown = undefined;

  constructor(worker: Worker, slots: Int32Array) {
    this.worker = worker;
    this.slots = slots;
  }

  get load(): number {
    return this.tail - this.head;
  }
}

// ---------------------------------------------------------------- the pool

/**
 * A pool of worker threads: `submit` a job, get a Future for its result. Mirrors Python's
 * `concurrent.futures.ThreadPoolExecutor` as used by `loop.run_in_executor` and `to_thread`, with
 * threads that really run in parallel (they have no GIL, but also share no variables).
 *
 * - Workers start on demand, up to `size`, and are reused: start-up is paid once per worker.
 * - Arguments and results are structured-cloned; wrap one in `transfer()` to move it instead.
 * - Errors thrown by a job arrive with their class (built-in and aiots errors), name, message,
 *   stack and fields. A worker that dies (`process.exit()`, out of memory, an uncaught error
 *   outside the job) fails its job with `WorkerCrashedError` and is replaced.
 * - Cancelling a job's Future (or the task awaiting it) stops a running job by terminating its
 *   worker; `onCancel: "finish"` lets it finish instead (asyncio's behaviour). A job that has not
 *   started is removed either way.
 * - Idle workers never keep the process alive; busy ones do, until their job is answered.
 * - `shutdown()` (or `await using`) ends every worker.
 *
 * @example
 * await using pool = new WorkerPool({ size: 2 });
 * const n = await pool.submit((limit: number) => {
 *   let count = 0;
 *   for (let i = 2; i < limit; i++) {
 *     let prime = true;
 *     for (let d = 2; d * d <= i; d++) if (i % d === 0) { prime = false; break; }
 *     if (prime) count++;
 *   }
 *   return count;
 * }, 100_000);
 */
export class WorkerPool {
  /** The most workers this pool runs at once. */
  readonly size: number;
  readonly #name: string;
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #workers: PoolWorker[] = [];
  /** Workers that take jobs (not retiring). */
  #live = 0;
  #workerCounter = 0;
  // Jobs waiting for a worker, FIFO from #head on.
  #queue: (JobFuture | undefined)[] = [];
  #head = 0;
  #queued = 0;
  #shutdown = false;
  #closed: PromiseWithResolvers<void> | undefined;
  #completed = 0;
  #failed = 0;
  #cancelled = 0;
  #crashed = 0;
  #terminated = 0;

  /**
   * @throws {TypeError} if an option has the wrong type.
   * @throws {RangeError} if `size` is not an integer >= 1.
   */
  constructor(options: WorkerPoolOptions = {}) {
    checkOptions("new WorkerPool()", options);
    const size = options.size ?? availableParallelism();
    checkInteger("new WorkerPool()", "size", size, 1);
    if (options.name !== undefined && typeof options.name !== "string") {
      throw typeError("new WorkerPool()", "name", "a string", options.name);
    }
    if (options.resourceLimits !== undefined) {
      checkOptions("new WorkerPool()", options.resourceLimits);
    }
    this.size = size;
    this.#name = options.name ?? "aiots";
    this.#resourceLimits = options.resourceLimits;
  }

  /**
   * Run `job(...args)` on a worker and return a Future for its result. `job` is a
   * self-contained function, `{ fn, onCancel }`, or a module job `{ module, name, onCancel }`.
   * Mirrors `executor.submit`.
   *
   * @throws {RuntimeError} after `shutdown()`, or outside `run()`.
   * @throws {TypeError} for a job that is not one of the above.
   */
  submit<A extends unknown[], R>(
    job: ThreadFunction<A, R> | FunctionJob<A, R>,
    ...args: A
  ): Future<Awaited<R>>;
  submit<R = unknown>(job: ModuleJob, ...args: unknown[]): Future<R>;
  submit(job: Job, ...args: unknown[]): Future<unknown> {
    return this._submit(getRunningLoop(), job, args, "pool.submit()");
  }

  /**
   * Run `job(item)` for each item on the pool's workers and yield the results in order. Every
   * item is submitted when the iteration starts; leaving the loop early (or a job failing)
   * cancels the jobs not yet consumed. Mirrors `executor.map`.
   *
   * @example
   * for await (const size of pool.map((path: string) => statSize(path), paths)) total += size;
   */
  map<T, R>(
    job: ThreadFunction<[T], R> | FunctionJob<[T], R>,
    items: Iterable<T>,
  ): AsyncGenerator<Awaited<R>, void, undefined>;
  map<R = unknown>(job: ModuleJob, items: Iterable<unknown>): AsyncGenerator<R, void, undefined>;
  map(job: Job, items: Iterable<unknown>): AsyncGenerator<unknown, void, undefined> {
    if (
      items === null ||
      items === undefined ||
      typeof (items as Partial<Iterable<unknown>>)[Symbol.iterator] !== "function"
    ) {
      throw typeError("pool.map()", "items", "an iterable", items);
    }
    return this.#map(job, items);
  }

  async *#map(job: Job, items: Iterable<unknown>): AsyncGenerator<unknown, void, undefined> {
    const loop = getRunningLoop();
    const futures: Future<unknown>[] = [];
    try {
      for (const item of items) futures.push(this._submit(loop, job, [item], "pool.map()"));
      for (const future of futures) yield await future;
    } finally {
      for (const future of futures) {
        if (!future.done()) future.cancel();
        else if (!future.cancelled()) future.exception(); // seen: not "never retrieved"
      }
    }
  }

  /**
   * Stop taking jobs and end the workers once the jobs already submitted are done. With `wait`
   * (default true) the promise resolves once every worker has exited; otherwise at once.
   * `{ cancelFutures: true }` cancels the jobs that have not started. Mirrors
   * `executor.shutdown(wait, cancel_futures=...)`. Calling it again is harmless.
   */
  shutdown(wait = true, options: ShutdownOptions = {}): Promise<void> {
    if (typeof wait !== "boolean") throw typeError("pool.shutdown()", "wait", "a boolean", wait);
    checkOptions("pool.shutdown()", options);
    this.#shutdown = true;
    this.#closed ??= Promise.withResolvers<void>();
    if (options.cancelFutures === true) {
      for (let i = this.#head; i < this.#queue.length; i++) this.#queue[i]?.cancel();
      for (const w of this.#workers) {
        for (let s = w.head; s < w.tail; s++) {
          const job = w.jobs[s % WINDOW];
          if (job !== undefined && Atomics.load(w.slots, job._slot) === QUEUED) job.cancel();
        }
      }
    }
    this.#reap();
    return wait ? this.#closed.promise : Promise.resolve();
  }

  /** A snapshot for debugging and tests. */
  statistics(): WorkerPoolStatistics {
    let busy = 0;
    let running = 0;
    for (const w of this.#workers) {
      if (w.load > 0) busy++;
      for (let s = w.head; s < w.tail; s++) if (w.jobs[s % WINDOW] !== undefined) running++;
    }
    return {
      size: this.size,
      workers: this.#workers.length,
      busy,
      queued: this.#queued,
      running,
      completed: this.#completed,
      failed: this.#failed,
      cancelled: this.#cancelled,
      started: this.#workerCounter,
      crashed: this.#crashed,
      terminated: this.#terminated,
    };
  }

  /** `await using pool = new WorkerPool()`: `shutdown(true)` at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown(true);
  }

  toString(): string {
    const s = this.statistics();
    const state = this.#shutdown ? "shut down" : "running";
    return `<WorkerPool ${state} size=${s.size} workers=${s.workers} queued=${s.queued} running=${s.running}>`;
  }

  // ---------------------------------------------------------------- submitting

  /** @internal submit() on a given loop (`loop.runInExecutor` uses it too). */
  _submit(loop: Loop, job: Job, args: unknown[], where: string): Future<unknown> {
    if (this.#shutdown) throw new RuntimeError("cannot schedule new futures after shutdown");
    let definition: Definition;
    let mode: CancelMode = "terminate";
    if (typeof job === "function") {
      definition = functionDefinition(job, where);
    } else if (typeof job === "object" && job !== null && "fn" in job) {
      if (typeof job.fn !== "function") throw typeError(where, "fn", "a function", job.fn);
      definition = functionDefinition(job.fn, where);
      mode = cancelMode(job.onCancel, where);
    } else if (typeof job === "object" && job !== null && "module" in job) {
      const name = job.name ?? "default";
      if (typeof name !== "string") throw typeError(where, "name", "a string", name);
      definition = define(MOD, moduleUrl(job.module, where), name);
      mode = cancelMode(job.onCancel, where);
    } else {
      throw typeError(where, "job", "a function, { fn } or { module, name }", job);
    }
    // The message is built once: [slot, id, ...args], with transfer() markers unwrapped.
    const message: JobMessage = [0, definition.id];
    let transfer: Transferable[] | undefined;
    for (const arg of args) {
      if (typeof arg === "object" && arg !== null && TRANSFER in arg) {
        const marker = arg as TransferMarker;
        transfer ??= [];
        for (const t of marker[TRANSFER]) transfer.push(t);
        message.push(marker.value);
      } else {
        message.push(arg);
      }
    }
    const future = new JobFuture(loop, this, definition, message, transfer, mode);
    this.#enqueue(future);
    this.#pump();
    return future;
  }

  #enqueue(job: JobFuture): void {
    this.#queue.push(job);
    this.#queued++;
  }

  /** Put jobs taken back from a worker at the front of the queue, in their order. */
  #requeueFront(jobs: JobFuture[]): void {
    if (jobs.length === 0) return;
    const rest = this.#queue.slice(this.#head);
    this.#queue = [...jobs, ...rest];
    this.#head = 0;
    this.#queued += jobs.length;
  }

  #dequeue(): JobFuture | undefined {
    const queue = this.#queue;
    while (this.#head < queue.length) {
      const job = queue[this.#head];
      queue[this.#head++] = undefined;
      if (job !== undefined) {
        this.#queued--;
        if (this.#head === queue.length) {
          queue.length = 0;
          this.#head = 0;
        }
        return job;
      }
    }
    queue.length = 0;
    this.#head = 0;
    return undefined;
  }

  /** Hand queued jobs to workers, starting workers as needed. */
  #pump(): void {
    while (this.#queued > 0) {
      const worker = this.#pickWorker();
      if (worker === undefined) return;
      const job = this.#dequeue();
      if (job === undefined) return;
      this.#post(worker, job);
    }
  }

  /**
   * The worker with the fewest jobs in hand; a new one if every worker has some and the pool
   * may grow. A job whose arguments are moved (transfer) goes to an idle worker only: it cannot
   * be moved again if taken back.
   */
  #pickWorker(): PoolWorker | undefined {
    let best: PoolWorker | undefined;
    for (const w of this.#workers) {
      if (w.retiring || w.load >= WINDOW) continue;
      if (best === undefined || w.load < best.load) best = w;
      if (w.load === 0) break;
    }
    if ((best === undefined || best.load > 0) && this.#live < this.size) return this.#spawn();
    if (best !== undefined && best.load > 0) {
      const next = this.#queue[this.#head];
      if (next?._transfer !== undefined) return undefined;
    }
    return best;
  }

  #post(w: PoolWorker, job: JobFuture): void {
    const seq = w.tail;
    const slot = seq % WINDOW;
    Atomics.store(w.slots, slot, QUEUED);
    const definition = job._definition;
    if (!w.known.has(definition.id)) {
      const { id, kind, text, name } = definition;
      w.worker.postMessage([DEFINE, id, kind, text, name] satisfies DefineMessage);
      w.known.add(id);
    }
    const message = job._message;
    message[0] = slot;
    try {
      if (job._transfer === undefined) w.worker.postMessage(message);
      else w.worker.postMessage(message, job._transfer);
    } catch (error) {
      Atomics.store(w.slots, slot, 0);
      const reason = error instanceof Error ? error.message : String(error);
      this.#fail(
        job,
        new TypeError(
          `toThread(): the arguments cannot be sent to a worker thread (${reason}); pass plain data: primitives, arrays, plain objects, Map, Set, Date, typed arrays`,
          { cause: error },
        ),
      );
      return;
    }
    w.jobs[slot] = job;
    w.tail = seq + 1;
    job._worker = w;
    job._slot = slot;
    // A worker with work keeps the process alive until the work is answered.
    if (w.load === 1) w.worker.ref();
  }

  #spawn(): PoolWorker {
    const slots = new Int32Array(new SharedArrayBuffer(WINDOW * Int32Array.BYTES_PER_ELEMENT));
    const n = ++this.#workerCounter;
    const worker = new Worker(getWorkerSource(), {
      eval: true,
      name: `${this.#name}-${n}`,
      workerData: { slots: slots.buffer },
      ...(this.#resourceLimits === undefined ? {} : { resourceLimits: this.#resourceLimits }),
    });
    const w = new PoolWorker(worker, slots);
    worker.unref();
    worker.on("online", () => {
      w.online = true;
    });
    worker.on("message", (reply: ReplyMessage) => this.#onReply(w, reply));
    worker.on("error", (error: unknown) => {
      w.error ??= error;
    });
    worker.on("exit", (code: number) => this.#onExit(w, code));
    this.#workers.push(w);
    this.#live++;
    return w;
  }

  // ---------------------------------------------------------------- replies

  #onReply(w: PoolWorker, reply: ReplyMessage): void {
    const slot = reply[0];
    // Replies come in the order the jobs were posted: this is the oldest unanswered one.
    const job = w.jobs[slot];
    w.jobs[slot] = undefined;
    w.head++;
    if (w.load === 0) w.worker.unref();
    // A reply of length 1 is a skipped job (taken back); its Future went elsewhere.
    if (job !== undefined && reply.length > 1) {
      job._worker = undefined;
      if (!job.done()) {
        if (reply.length === 2) {
          this.#completed++;
          job._resolve(reply[1]);
        } else if (reply[2] === ERR) {
          this.#fail(job, reviveError(reply[1]));
        }
      }
      // else: cancelled with onCancel "finish" (or taken too late): the result is dropped
    }
    if (w.retiring) return;
    if (this.#queued > 0) this.#pump();
    else if (w.load === 0) this.#steal(w);
    this.#reap();
  }

  #fail(job: JobFuture, error: unknown): void {
    this.#failed++;
    job._reject(error);
  }

  /**
   * `idle` has nothing to do and nothing is queued: take back the newest jobs still waiting in
   * another worker's line (behind a long job, say) and run them here.
   */
  #steal(idle: PoolWorker): void {
    for (const w of this.#workers) {
      if (w === idle || w.retiring || w.load < 2) continue;
      // Take at most half of its line, and never the oldest job: it is running, or about to.
      let take = Math.max(1, (w.load - 1) >> 1);
      for (let s = w.tail - 1; s > w.head && take > 0 && idle.load < WINDOW; s--) {
        const slot = s % WINDOW;
        const job = w.jobs[slot];
        if (job === undefined || job._transfer !== undefined) continue;
        if (Atomics.compareExchange(w.slots, slot, QUEUED, REVOKED) !== QUEUED) break;
        w.jobs[slot] = undefined;
        job._worker = undefined;
        this.#post(idle, job);
        take--;
      }
    }
  }

  // ---------------------------------------------------------------- cancellation

  /** @internal A job's Future was cancelled. */
  _jobCancelled(job: JobFuture): void {
    this.#cancelled++;
    const w = job._worker;
    if (w === undefined) {
      // Still queued here: drop it.
      const i = this.#queue.indexOf(job, this.#head);
      if (i !== -1) {
        this.#queue[i] = undefined;
        this.#queued--;
      }
      this.#reap();
      return;
    }
    const previous = Atomics.compareExchange(w.slots, job._slot, QUEUED, REVOKED);
    if (previous === QUEUED) {
      // Posted but not started: the worker will skip it.
      w.jobs[job._slot] = undefined;
      job._worker = undefined;
      return;
    }
    if (previous !== RUNNING || job._mode === "finish") return;
    this.#stopRunning(w, job);
  }

  /**
   * Stop the running `victim` by terminating its worker. First take back every job waiting
   * behind it (they go to other workers); then, if the victim is still running, nothing else
   * can start on that worker, and terminating it loses the victim only. If the victim finished
   * in between, the worker is kept.
   */
  #stopRunning(w: PoolWorker, victim: JobFuture): void {
    w.retiring = true;
    this.#live--;
    const takenBack: JobFuture[] = [];
    for (let s = w.head; s < w.tail; s++) {
      const slot = s % WINDOW;
      const job = w.jobs[slot];
      if (job === undefined || job === victim) continue;
      if (Atomics.compareExchange(w.slots, slot, QUEUED, REVOKED) === QUEUED) {
        w.jobs[slot] = undefined;
        job._worker = undefined;
        takenBack.push(job);
      }
    }
    if (Atomics.load(w.slots, victim._slot) === RUNNING) {
      w.terminating = true;
      this.#terminated++;
      void w.worker.terminate();
    } else {
      w.retiring = false;
      this.#live++;
    }
    this.#requeueFront(takenBack);
    this.#pump();
  }

  // ---------------------------------------------------------------- exits

  #onExit(w: PoolWorker, code: number): void {
    const i = this.#workers.indexOf(w);
    if (i !== -1) this.#workers.splice(i, 1);
    if (!w.retiring) this.#live--;
    w.retiring = true;
    const crashed = !w.terminating;
    if (crashed) this.#crashed++;
    const requeue: JobFuture[] = [];
    for (let s = w.head; s < w.tail; s++) {
      const slot = s % WINDOW;
      const job = w.jobs[slot];
      w.jobs[slot] = undefined;
      if (job === undefined || job.done()) continue;
      job._worker = undefined;
      const state = Atomics.load(w.slots, slot);
      if (state === QUEUED && w.online && job._transfer === undefined) {
        requeue.push(job); // never started: it runs on another worker
      } else {
        this.#fail(job, this.#crashError(w, code, state === QUEUED ? "before" : "while"));
      }
    }
    w.head = w.tail;
    this.#requeueFront(requeue);
    this.#pump();
    this.#reap();
  }

  #crashError(w: PoolWorker, code: number, when: "before" | "while"): WorkerCrashedError {
    const error = w.error;
    const options = error === undefined ? undefined : { cause: error };
    const oom = (error as { code?: unknown } | undefined)?.code === "ERR_WORKER_OUT_OF_MEMORY";
    const what = !w.online
      ? `failed to start${error instanceof Error ? `: ${error.message}` : ` (exit code ${code})`}`
      : oom
        ? "ran out of memory (the pool's resourceLimits)"
        : error instanceof Error
          ? `crashed: ${error.name}: ${error.message}`
          : `exited with code ${code} (a job called process.exit()?)`;
    const tail =
      when === "before"
        ? "before the job started, and the job's transferred arguments went with it"
        : "while running the job";
    return new WorkerCrashedError(
      `The worker thread ${what}, ${tail}; the pool replaces it`,
      code,
      options,
    );
  }

  /** After shutdown: end idle workers; resolve `shutdown(true)` once none is left. */
  #reap(): void {
    if (!this.#shutdown) return;
    if (this.#queued === 0) {
      for (const w of this.#workers) {
        if (w.load === 0 && !w.retiring) {
          w.retiring = true;
          w.terminating = true;
          this.#live--;
          void w.worker.terminate();
        }
      }
    }
    if (this.#workers.length === 0 && this.#queued === 0) this.#closed?.resolve();
  }
}
