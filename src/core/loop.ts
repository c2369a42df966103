/**
 * The event loop: a FIFO ready queue and a timer heap, run in iterations on top of Node's own
 * event loop (asyncio's `BaseEventLoop._run_once`).
 *
 * One iteration moves the due timers to the ready queue, then runs exactly the callbacks that
 * were queued when it began; callbacks they schedule run in the next iteration. In asyncio a
 * task's step is one of those callbacks; here a task's code can only run in microtasks, so a
 * callback that wakes a task pauses the iteration, and the iteration goes on once the task has
 * run to its next suspension:
 *
 *     callback, callback (wakes task A)  ->  microtasks: A runs to its next await
 *                                       ->  the iteration goes on from the next callback
 *
 * A task reports its suspension (see `_woke`, `_suspended`); one that awaits a foreign promise
 * instead is covered by a `nextTick` fallback, which runs once the microtask queue is empty. It
 * is armed when the pause begins if something is left to run, else by the first thing that
 * needs the loop during the pause (a callback, a timer, a stop).
 *
 * An I/O event that wakes a task while the loop is idle runs as an iteration of its own, at
 * once, inside the event's callback (`_scheduleEvent`): no microtask hop to start it.
 *
 * Bursts of iterations run back to back, but after `SLICE_MS` of continuous running the loop
 * continues from `setImmediate` instead, so Node's timers and I/O always get their turn: a task
 * spinning on `sleep(0)` cannot starve a socket (asyncio polls its selector every iteration for
 * the same reason).
 *
 * @module
 */
import { RuntimeError } from "../errors.ts";
import { checkFunction, checkNumber, checkOptions, typeError } from "../validate.ts";
import {
  type FunctionJob,
  type Job,
  type ModuleJob,
  type ThreadFunction,
  WorkerPool,
} from "../worker-pool.ts";
import { type Clock, SystemClock } from "./clock.ts";
import { setInLoopCallbacks } from "./context.ts";
import { Future } from "./future.ts";
import { bindHandle, Handle, runHandle, TimerHandle } from "./handle.ts";
import { firstForeignFrame, startTask, Task, type TaskOptions } from "./task.ts";
import { TaskSet } from "./task-set.ts";
import { type TimerEntry, TimerHeap } from "./timer-heap.ts";

/** Microtask probes for a paused iteration's task before the nextTick fallback (see #armFallback). */
const PROBES = 4;

/** How long the loop may run iterations back to back before it lets Node's I/O phase run. */
const SLICE_MS = 5;

const resolved = Promise.resolve();

/** What `callExceptionHandler` receives, as in asyncio. */
export interface ExceptionContext {
  message: string;
  exception?: unknown;
  task?: Task<unknown>;
  future?: Future<unknown>;
  handle?: Handle;
  [key: string]: unknown;
}

/** A loop exception handler: `handler(loop, context)`. */
export type ExceptionHandler = (loop: Loop, context: ExceptionContext) => void;

/** Options of `run()`, `Runner` and `new Loop()`. */
export interface LoopOptions {
  /** Debug mode (default: the `AIOTS_DEBUG` environment variable). */
  debug?: boolean | undefined;
  /** Where time comes from; `aiots/testing` has a virtual clock. */
  clock?: Clock | undefined;
}

type Callback = (arg: never) => void;

interface Unretrieved {
  readonly ref: WeakRef<Future<unknown>>;
  readonly error: unknown;
  readonly label: string;
}

function fireTimer(timer: TimerEntry): void {
  timer._fire();
}

interface StartGate {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  /** The tasks behind the gate, in creation order, which is also the order of their reactions. */
  readonly tasks: (Task<unknown> | undefined)[];
  /** The index of the task whose reaction runs next. */
  next: number;
  readonly loop: Loop;
  /** The reaction each task registers on `promise`: it starts the next task. */
  readonly startNext: () => void;
}

function newStartGate(loop: Loop): StartGate {
  const { promise, resolve } = Promise.withResolvers<void>();
  const gate: StartGate = {
    promise,
    resolve,
    tasks: [],
    next: 0,
    loop,
    startNext: () => {
      const i = gate.next++;
      const task = gate.tasks[i] as Task<unknown>;
      gate.tasks[i] = undefined;
      startTask(task);
    },
  };
  return gate;
}

/** The gate's turn in the iteration: its tasks start, and the iteration waits for them. */
function openGate(gate: StartGate): void {
  const loop = gate.loop;
  for (const task of gate.tasks) {
    if (!(task as Task<unknown>).done()) loop._woke(task as Task<unknown>);
  }
  gate.resolve();
}

function envDebug(): boolean {
  const v = process.env.AIOTS_DEBUG;
  return v !== undefined && v !== "" && v !== "0";
}

/**
 * An event loop. Get the running one with `getRunningLoop()`; `run()` and `Runner` create them.
 */
export class Loop {
  readonly #clock: Clock;
  #debug: boolean;
  /** Callbacks taking longer than this (ms) are reported in debug mode. */
  slowCallbackDuration = 100;

  // The ready queue, flat: [fn0, arg0, fn1, arg1, ...] from #head to #tail. The array is never
  // truncated when it empties (setting an array's length is a call into the runtime, and the
  // next push would grow it again); run slots are cleared, so it holds nothing alive.
  #queue: unknown[] = [];
  #head = 0;
  #tail = 0;
  readonly #timers = new TimerHeap();
  #timerSeq = 0;

  #scheduled = false;
  #running = false;
  #epoch = 0;
  #inflight = 0;
  /** The end of the current iteration's callbacks in #queue (later ones belong to the next). */
  #iterEnd = 0;
  /** The current iteration waits for the tasks it woke to suspend before it goes on. */
  #paused = false;
  #fallbackArmed = false;
  /** The deadline the clock was given when the loop last went idle. */
  #idleDeadline: number | null = null;
  #probes = 0;
  #sinceClockCheck = 0;
  /**
   * When the loop last let Node's I/O phase run (see SLICE_MS), or -1: not taken yet, the burst's
   * first clock check takes it (a `performance.now()` per wake-up from idleness was measurable).
   */
  #stopping = false;
  #closed = false;
  #lastYield = -1;
  #onStop: (() => void) | undefined;
  #handler: ExceptionHandler | null = null;
  #gate: StartGate | undefined;
  #defaultExecutor: WorkerPool | undefined;
  #executorShutDown = false;

  /** @internal tasks not yet done, for allTasks() and the shutdown in run() */
  readonly _tasks: TaskSet = new TaskSet();
  /**
   * @internal Cleanups that `Runner.close()` awaits once the leftover tasks are done, before the
   * loop closes (streams close their servers and sockets; subprocesses kill and reap children).
   */
  readonly _shutdownHooks: Set<() => Promise<void>> = new Set();
  // Debug mode: the task running now and when it started (see _stepStarted).
  #stepTask: Task<unknown> | undefined;
  #stepStart = 0;
  #slowWhere: string | undefined;
  readonly #unretrieved = new Set<Unretrieved>();
  readonly #registry = new FinalizationRegistry<Unretrieved>((record) => {
    if (this.#unretrieved.delete(record)) this.#reportUnretrieved(record, undefined);
  });

  constructor(options: LoopOptions = {}) {
    checkOptions("new Loop()", options);
    this.#clock = options.clock ?? new SystemClock();
    this.#debug = options.debug ?? envDebug();
  }

  /**
   * Start an iteration as a microtask queued behind everything queued so far. It may run in any
   * async context (often that of the task that suspended last): the loop's own callbacks do not
   * depend on it, `setInLoopCallbacks` hides the current task from them, and public callbacks
   * carry their own context (see handle.ts).
   */
  #ring(): void {
    void resolved.then(this.#iterate);
  }

  // ---------------------------------------------------------------- scheduling core

  /** @internal Queue `fn(arg)` for the next iteration: the hot path, no allocation. */
  _schedule<A>(fn: (arg: A) => void, arg: A): void {
    this.#enqueue(fn, arg);
    this.#nudge();
  }

  #enqueue(fn: unknown, arg: unknown): void {
    const queue = this.#queue;
    const t = this.#tail;
    queue[t] = fn;
    queue[t + 1] = arg;
    this.#tail = t + 2;
  }

  /**
   * @internal Run `fn(arg)` for an event from outside the loop (data from a socket): if the loop
   * is idle, as an iteration of its own, at once (asyncio's loop runs the callbacks of the I/O
   * its poll returned in the iteration that polled); else queued as `_schedule` does. `fn` must
   * not run user code synchronously (it wakes a task, whose code runs in a microtask).
   */
  _scheduleEvent<A>(fn: (arg: A) => void, arg: A): void {
    if (this.#scheduled || !this.#running || this.#head !== this.#tail) {
      this._schedule(fn, arg);
      return;
    }
    this.#leaveIdle();
    this.#beginIteration(this.#head);
    const previous = setInLoopCallbacks(true);
    try {
      fn(arg);
    } catch (error) {
      this.#callbackFailed(error, fn as Callback, arg);
    }
    try {
      this.#runCallbacks();
    } catch (error) {
      this.#internalError(error);
    }
    setInLoopCallbacks(previous);
  }

  /**
   * Something is ready for the loop: start iterating if it is idle. If it is paused on a task,
   * make sure the iteration goes on even if that task never reports back (see #armFallback).
   */
  #nudge(): void {
    if (!this.#scheduled) this.#kick();
    else if (this.#paused && !this.#fallbackArmed) this.#armFallback();
  }

  /** Leave idleness: start a burst of iterations. */
  #kick(): void {
    if (!this.#running) return;
    this.#leaveIdle();
    this.#ring();
  }

  #leaveIdle(): void {
    this.#scheduled = true;
    this.#lastYield = -1;
    this.#clock.busy?.();
  }

  /** A new iteration runs the callbacks queued before `end` (those queued later wait for the next). */
  #beginIteration(end: number): void {
    this.#epoch++;
    this.#inflight = 0;
    this.#iterEnd = end;
  }

  // Task code runs in microtasks, and asyncio runs it one task at a time, in the order of the
  // ready queue: a task's step (up to its next suspension) runs before the callbacks queued
  // after its wake-up, and before the next task resumes. So when a callback wakes a task
  // (`_woke`), the iteration pauses (`#inflight`) and goes on when the task reports back
  // through `_suspended`. A task that awaits a foreign promise instead never reports back; a
  // `nextTick` fallback, which runs only once the microtask queue is empty, goes on without it
  // (armed by #runCallbacks if something is left to run, else by #nudge once something is).

  /**
   * @internal Put a new task behind a start gate (see task.ts): a reaction registered here, in
   * the creator's async context, starts it once the gate opens. Tasks created back to back share
   * one gate, opened by one callback at the position of the first: FIFO order is kept, and a
   * loop creating 100k tasks allocates one promise, not 100k.
   */
  _startGate(task: Task<unknown>): void {
    let gate = this.#gate;
    if (gate === undefined || this.#queue[this.#tail - 1] !== gate) {
      gate = newStartGate(this);
      this.#gate = gate;
      this._schedule(openGate, gate);
    }
    gate.tasks.push(task);
    void gate.promise.then(gate.startNext);
  }

  /**
   * @internal A task is about to run, resumed by a callback of the iteration: the iteration
   * pauses until the task suspends.
   */
  _woke(task: Task<unknown>): void {
    if (task._wokenIn !== this.#epoch) {
      task._wokenIn = this.#epoch;
      this.#inflight++;
      if (this.#debug) this._stepStarted(task);
    }
  }

  /** @internal A task woken by this iteration suspended again (or finished). */
  _suspended(task: Task<unknown>): void {
    if (task._wokenIn === this.#epoch) {
      task._wokenIn = -1;
      if (this.#debug) this.#checkSlowStep(task, false);
      if (--this.#inflight === 0 && this.#paused) this.#goOn();
    }
  }

  /** Go on with the paused iteration. Often called from inside a task's await: hide the task. */
  #goOn(): void {
    this.#paused = false;
    const previous = setInLoopCallbacks(true);
    try {
      this.#runCallbacks();
    } finally {
      setInLoopCallbacks(previous);
    }
  }

  /**
   * The iteration paused on a task: make sure it goes on even if the task never reports back.
   * A `nextTick` queued from a microtask runs once the microtask queue is empty, which is the
   * fallback's moment; but it costs about 0.7 us, and nearly every task suspends within a few
   * microtasks. So first a few cheap microtask probes look whether it has; only a task still
   * running after them gets the nextTick. (Queued from a microtask, the nextTick also runs
   * after the microtasks when the loop itself runs from a nextTick or a macrotask.)
   */
  #armFallback(): void {
    if (this.#fallbackArmed) return;
    this.#fallbackArmed = true;
    this.#probes = 0;
    void resolved.then(this.#probe);
  }

  readonly #probe = (): void => {
    if (!this.#paused) {
      this.#fallbackArmed = false;
    } else if (++this.#probes < PROBES) {
      void resolved.then(this.#probe);
    } else {
      process.nextTick(this.#fallback);
    }
  };

  readonly #fallback = (): void => {
    this.#fallbackArmed = false;
    if (this.#paused) {
      // The running task awaits something foreign: stop waiting for it (its later suspension
      // belongs to an older epoch and is ignored).
      this.#epoch++;
      this.#inflight = 0;
      this.#goOn();
    }
  };

  readonly #afterYield = (): void => {
    this.#lastYield = performance.now();
    this.#iterate();
  };

  readonly #wake = (): void => {
    this.#nudge();
  };

  /**
   * Start the next iteration: as a microtask, or, after `SLICE_MS` without Node's I/O phase,
   * from `setImmediate` (timers and sockets run first).
   */
  #next(): void {
    if (this.#head === this.#tail && !this.#stopping) {
      // Nothing to run: go idle now rather than after an empty iteration (an I/O event then
      // costs one iteration, not two).
      const timer = this.#timers.peek();
      if (timer === undefined || timer._when > this.#clock.now()) {
        this.#goIdle();
        return;
      }
    }
    if (++this.#sinceClockCheck >= 8) {
      this.#sinceClockCheck = 0;
      const now = performance.now();
      if (this.#lastYield < 0) this.#lastYield = now;
      else if (now - this.#lastYield >= SLICE_MS) {
        setImmediate(this.#afterYield);
        return;
      }
    }
    this.#ring();
  }

  readonly #iterate = (): void => {
    if (this.#closed) return;
    try {
      this.#iterateOnce();
    } catch (error) {
      this.#internalError(error);
    }
  };

  /** Only a broken Clock can get here: keep the loop alive and say so. */
  #internalError(error: unknown): void {
    setInLoopCallbacks(false);
    this.#scheduled = false;
    this.callExceptionHandler({ message: "Internal error in the event loop", exception: error });
  }

  #iterateOnce(): void {
    if (!this.#running) {
      this.#scheduled = false;
      return;
    }
    const timers = this.#timers;
    if (timers.size > 0) {
      const now = this.#clock.now();
      let t = timers.peek();
      while (t !== undefined && t._when <= now) {
        timers.pop();
        this.#enqueue(fireTimer, t);
        t = timers.peek();
      }
    }
    if (this.#head === this.#tail) {
      this.#goIdle();
      return;
    }
    this.#beginIteration(this.#tail);
    setInLoopCallbacks(true);
    this.#runCallbacks();
    setInLoopCallbacks(false);
  }

  /**
   * Run the iteration's callbacks from #head on; pause as soon as one has woken a task (see
   * `_woke`), and finish the iteration once all ran and no task is running.
   */
  #runCallbacks(): void {
    const queue = this.#queue;
    const end = this.#iterEnd;
    let i = this.#head;
    while (i < end) {
      if (this.#inflight > 0) break;
      const fn = queue[i] as Callback;
      const arg = queue[i + 1] as never;
      queue[i] = undefined;
      queue[i + 1] = undefined;
      this.#head = i += 2;
      if (this.#debug) {
        this.#runDebug(fn, arg);
        continue;
      }
      try {
        fn(arg);
      } catch (error) {
        this.#callbackFailed(error, fn, arg);
      }
    }
    if (this.#inflight > 0) {
      this.#paused = true;
      if (this.#mustGoOn()) this.#armFallback();
      return;
    }
    this.#finishIteration();
  }

  #finishIteration(): void {
    const i = this.#head;
    if (i === this.#tail) {
      this.#head = this.#tail = 0;
      // A burst (100k tasks started at once) left a large array: let it go.
      if (i > 8192) this.#queue = [];
    } else if (i > 8192 && i * 2 > this.#tail) {
      this.#queue.splice(0, i);
      this.#head = 0;
      this.#tail -= i;
    }
    if (this.#stopping) {
      this.#stopping = false;
      this.#running = false;
      this.#scheduled = false;
      const onStop = this.#onStop;
      this.#onStop = undefined;
      onStop?.();
      return;
    }
    this.#next();
  }

  #runDebug(fn: Callback, arg: never): void {
    const t0 = performance.now();
    try {
      fn(arg);
    } catch (error) {
      this.#callbackFailed(error, fn, arg);
    }
    this._checkSlow(t0, fn.name || "<callback>");
  }

  /**
   * @internal Debug mode: a task starts running now. Tasks run one at a time, except the first
   * steps of a batch of new tasks, which follow each other: whoever ran last is charged with the
   * time until the next task starts or it suspends.
   */
  _stepStarted(task: Task<unknown>): void {
    if (!this.#debug) return;
    this.#checkSlowStep(this.#stepTask, true);
    this.#stepTask = task;
    this.#stepStart = performance.now();
    this.#slowWhere = undefined;
  }

  /**
   * @internal Debug mode, called by aiots entry points that user code calls before it suspends
   * (`sleep`, a primitive's wait): if the running step is already too long, remember where the
   * code is (capturing a stack costs microseconds, so only then).
   */
  _checkpoint(): void {
    if (!this.#debug || this.#stepTask === undefined || this.#slowWhere !== undefined) return;
    if (performance.now() - this.#stepStart >= this.slowCallbackDuration) {
      this.#slowWhere = firstForeignFrame(new Error().stack);
    }
  }

  /**
   * Debug mode: a task that ran longer than `slowCallbackDuration` between two awaits blocked
   * the loop; say which task, and where its code was when the step ended, if known.
   */
  #checkSlowStep(task: Task<unknown> | undefined, next: boolean): void {
    if (task === undefined || (!next && task !== this.#stepTask)) return;
    this.#stepTask = undefined;
    const took = performance.now() - this.#stepStart;
    if (took < this.slowCallbackDuration) return;
    const site = this.#slowWhere;
    this.#slowWhere = undefined;
    const where = site === undefined ? "" : ` (it went on to ${site})`;
    this.callExceptionHandler({
      message: `Executing ${task.toString()} took ${took.toFixed(0)} ms without awaiting${where}`,
      task,
    });
  }

  /** @internal Debug mode: report a callback that blocked the loop for too long. */
  _checkSlow(t0: number, what: string): void {
    const took = performance.now() - t0;
    if (took >= this.slowCallbackDuration) {
      this.callExceptionHandler({ message: `Executing ${what} took ${took.toFixed(0)} ms` });
    }
  }

  #goIdle(): void {
    this.#scheduled = false;
    const next = this.#timers.peek();
    this.#idleDeadline = next === undefined ? null : next._when;
    this.#clock.idle(this.#idleDeadline, this.#wake);
  }

  /**
   * Whether an iteration that pauses on a task must go on even if the task never reports back:
   * callbacks are queued, or the clock has not been told of the earliest timer (it was added
   * while the loop was busy), or the clock acts on idleness (the virtual clock's autojump).
   * Otherwise the fallback is armed later, by the first thing that needs the loop (#nudge).
   */
  #mustGoOn(): boolean {
    if (this.#head !== this.#tail || this.#clock.busy !== undefined) return true;
    const next = this.#timers.peek();
    return next !== undefined && next._when !== this.#idleDeadline;
  }

  #callbackFailed(error: unknown, fn: Callback, arg: unknown): void {
    const handle = arg instanceof Handle ? arg : undefined;
    this.callExceptionHandler({
      message: `Exception in callback ${handle ? handle.toString() : fn.name || "<callback>"}`,
      exception: error,
      ...(handle ? { handle } : {}),
    });
  }

  /**
   * @internal Whether nothing is ready to run: no callback queued, no task waiting to resume,
   * no timer due. Seen from a task that just resumed, it means every other task is blocked.
   */
  _isQuiet(): boolean {
    if (this.#head !== this.#tail) return false;
    const next = this.#timers.peek();
    return next === undefined || next._when > this.#clock.now();
  }

  /** @internal The deadline of the next timer, or null. */
  _nextDeadline(): number | null {
    return this.#timers.peek()?._when ?? null;
  }

  /** @internal Start or resume iterating. */
  _start(): void {
    if (this.#closed) throw new RuntimeError("Event loop is closed");
    this.#running = true;
    this.#stopping = false;
    this.#nudge();
  }

  /** @internal Stop at the end of the current iteration (asyncio's `loop.stop()`). */
  _stop(onStop?: () => void): void {
    if (!this.#running) {
      onStop?.();
      return;
    }
    this.#stopping = true;
    this.#onStop = onStop;
    this.#nudge();
  }

  /** @internal Drop every pending callback and timer; the loop cannot be used again. */
  _close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#running = false;
    this.#queue = [];
    this.#head = this.#tail = 0;
    this.#timers.clear();
    this.#clock.close?.();
    for (const record of this.#unretrieved) this.#registry.unregister(record);
    this.#unretrieved.clear();
  }

  // ---------------------------------------------------------------- public API

  /** The loop's clock in milliseconds (monotonic). */
  time(): number {
    return this.#clock.now();
  }

  /** True between the start of a `run()` and its end. */
  isRunning(): boolean {
    return this.#running;
  }

  isClosed(): boolean {
    return this.#closed;
  }

  /** Schedule `callback(...args)` for the next iteration, in FIFO order. */
  callSoon<A extends unknown[]>(callback: (...args: A) => unknown, ...args: A): Handle {
    checkFunction("loop.callSoon()", "callback", callback);
    this.#checkOpen();
    const handle = new Handle(callback as (...args: never[]) => unknown, args);
    this._schedule(runHandle, bindHandle(handle, this));
    return handle;
  }

  /** Schedule `callback(...args)` to run after `delay` ms (negative: as soon as possible). */
  callLater<A extends unknown[]>(
    delay: number,
    callback: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    checkNumber("loop.callLater()", "delay", delay);
    checkFunction("loop.callLater()", "callback", callback);
    return this.callAt(this.#clock.now() + delay, callback, ...args);
  }

  /** Schedule `callback(...args)` at the absolute loop time `when` (ms, as `time()`). */
  callAt<A extends unknown[]>(
    when: number,
    callback: (...args: A) => unknown,
    ...args: A
  ): TimerHandle {
    checkNumber("loop.callAt()", "when", when);
    checkFunction("loop.callAt()", "callback", callback);
    this.#checkOpen();
    const handle = this._timer(when, callback as (...args: never[]) => unknown, args);
    bindHandle(handle, this);
    return handle;
  }

  /**
   * @internal callAt without validation, for sleep and timeouts: `callback(...args)`, or
   * `callback(arg)` when `args` is undefined.
   */
  _timer(
    when: number,
    callback: (...args: never[]) => unknown,
    args: unknown[] | undefined,
    arg?: unknown,
  ): TimerHandle {
    const handle = new TimerHandle(when, this.#timerSeq++, callback, args, arg);
    if (when === Number.POSITIVE_INFINITY) return handle; // never due: keep it out of the heap
    handle._onCancel = this.#removeTimer;
    this.#timers.push(handle);
    // An idle loop has armed its clock for the previous earliest timer: wake it to re-arm.
    this.#nudge();
    return handle;
  }

  readonly #removeTimer = (handle: TimerHandle): void => {
    this.#timers.remove(handle);
  };

  /** @internal The next free tie-breaker for a timer entry. */
  _nextTimerSeq(): number {
    return this.#timerSeq++;
  }

  /** @internal Add a timer entry of the core's own (a sleep) to the heap. */
  _addTimer(entry: TimerEntry): void {
    this.#timers.push(entry);
    this.#nudge();
  }

  /** @internal Remove a timer entry (no effect if it is not in the heap). */
  _removeTimer(entry: TimerEntry): void {
    this.#timers.remove(entry);
  }

  /** A new pending Future bound to this loop. */
  createFuture<T>(): Future<T> {
    return new Future<T>(this);
  }

  /** Start `fn` as a Task on this loop; see `createTask`. */
  createTask<T>(fn: () => PromiseLike<T>, options?: TaskOptions): Task<T> {
    checkFunction("createTask()", "fn", fn);
    checkOptions("createTask()", options);
    this.#checkOpen();
    return Task._create(this, fn, options);
  }

  /** Set the handler for errors nobody else can receive (`null` restores the default). */
  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== "function") {
      throw typeError("loop.setExceptionHandler()", "handler", "a function or null", handler);
    }
    this.#handler = handler;
  }

  getExceptionHandler(): ExceptionHandler | null {
    return this.#handler;
  }

  /** Report an error through the loop's exception handler. */
  callExceptionHandler(context: ExceptionContext): void {
    const handler = this.#handler;
    if (handler === null) {
      this.defaultExceptionHandler(context);
      return;
    }
    try {
      handler(this, context);
    } catch (error) {
      this.defaultExceptionHandler({
        message: "Unhandled error in exception handler",
        exception: error,
        context,
      });
    }
  }

  /** Write the context to stderr: the message, then each other key, then the error's stack. */
  defaultExceptionHandler(context: ExceptionContext): void {
    const lines = [`aiots: ${context.message}`];
    for (const [key, value] of Object.entries(context)) {
      if (key === "message" || key === "exception") continue;
      lines.push(`${key}: ${String(value)}`);
    }
    if ("exception" in context) {
      const e = context.exception;
      lines.push(e instanceof Error && e.stack ? e.stack : String(e));
    }
    process.stderr.write(`${lines.join("\n")}\n`);
  }

  getDebug(): boolean {
    return this.#debug;
  }

  setDebug(enabled: boolean): void {
    if (typeof enabled !== "boolean") {
      throw typeError("loop.setDebug()", "enabled", "a boolean", enabled);
    }
    this.#debug = enabled;
  }

  /**
   * Run `job(...args)` on a worker thread of `executor`, or of the loop's default pool when it
   * is `null` (created on first use, shut down when `run()` ends), and return a Future for the
   * result. Mirrors `loop.run_in_executor`; see `toThread` for jobs, cancellation and errors.
   *
   * @throws {RuntimeError} after `shutdownDefaultExecutor()` (with `null`), or on a closed loop.
   * @throws {TypeError} if `executor` is not a `WorkerPool` or null.
   */
  runInExecutor<A extends unknown[], R>(
    executor: WorkerPool | null,
    job: ThreadFunction<A, R> | FunctionJob<A, R>,
    ...args: A
  ): Future<Awaited<R>>;
  runInExecutor<R = unknown>(
    executor: WorkerPool | null,
    job: ModuleJob,
    ...args: unknown[]
  ): Future<R>;
  runInExecutor(executor: WorkerPool | null, job: Job, ...args: unknown[]): Future<unknown> {
    if (executor !== null && !(executor instanceof WorkerPool)) {
      throw typeError("loop.runInExecutor()", "executor", "a WorkerPool or null", executor);
    }
    const pool = executor ?? this._defaultExecutor();
    return pool._submit(this, job, args, "loop.runInExecutor()");
  }

  /** @internal The default pool, created on first use (toThread and runInExecutor(null)). */
  _defaultExecutor(): WorkerPool {
    this.#checkOpen();
    if (this.#executorShutDown) throw new RuntimeError("Executor shutdown has been called");
    this.#defaultExecutor ??= new WorkerPool();
    return this.#defaultExecutor;
  }

  /**
   * Shut the default pool down and wait for its workers to exit; `runInExecutor(null, ...)`
   * and `toThread` fail after this. `run()` calls it at the end. Mirrors
   * `loop.shutdown_default_executor()`.
   */
  async shutdownDefaultExecutor(): Promise<void> {
    this.#executorShutDown = true;
    const executor = this.#defaultExecutor;
    this.#defaultExecutor = undefined;
    if (executor !== undefined) await executor.shutdown(true);
  }

  #checkOpen(): void {
    if (this.#closed) throw new RuntimeError("Event loop is closed");
  }

  // ---------------------------------------------------------------- never-retrieved errors

  /** @internal A future failed and nobody has looked at the error yet. */
  _trackUnretrieved(future: Future<unknown>, error: unknown, label: string): Unretrieved {
    const record: Unretrieved = { ref: new WeakRef(future), error, label };
    this.#unretrieved.add(record);
    this.#registry.register(future, record, record);
    return record;
  }

  /** @internal The error was retrieved after all. */
  _untrack(record: Unretrieved): void {
    this.#unretrieved.delete(record);
    this.#registry.unregister(record);
  }

  /** @internal Report every error still unretrieved (at the end of `run()`). */
  _reportUnretrieved(): void {
    for (const record of this.#unretrieved) {
      this.#registry.unregister(record);
      this.#reportUnretrieved(record, record.ref.deref());
    }
    this.#unretrieved.clear();
  }

  #reportUnretrieved(record: Unretrieved, future: Future<unknown> | undefined): void {
    const isTask = record.label.startsWith("<Task");
    const context: ExceptionContext = {
      message: `${isTask ? "Task" : "Future"} exception was never retrieved`,
      exception: record.error,
    };
    if (future !== undefined) {
      if (future instanceof Task) context.task = future;
      else context.future = future;
    } else {
      context.description = record.label;
    }
    this.callExceptionHandler(context);
  }
}
