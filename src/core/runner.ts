/**
 * `run()` and `Runner`: own a loop's lifetime (asyncio's runners.py).
 *
 * `run(main)` runs `main` as the main task; when it ends, every task still running is cancelled
 * and awaited, errors nobody retrieved are reported, and the loop is closed. The first Ctrl-C
 * cancels the main task (it may clean up); a second one ends the process at once.
 *
 * @module
 */
import { isMainThread } from "node:worker_threads";
import { describeWaiter } from "../debug/call-graph.ts";
import { KeyboardInterrupt, RuntimeError } from "../errors.ts";
import { checkFunction, checkOptions, typeError } from "../validate.ts";
import { peekRunningLoop, setRunningLoop } from "./context.ts";
import type { Future } from "./future.ts";
import { Loop, type LoopOptions } from "./loop.ts";
import type { Task } from "./task.ts";

/** Options of `run()` and `new Runner()`. */
export interface RunOptions extends LoopOptions {
  /**
   * Cancel the main task on the first SIGINT (Ctrl-C) and end the process on the second.
   * Default: true on the main thread when no other SIGINT listener is installed.
   */
  handleSignals?: boolean | undefined;
  /**
   * Let `aiots ps PID` / `aiots pstree PID` read this process's tasks (same OS user only).
   * Default: the `AIOTS_INSPECT` environment variable.
   */
  inspect?: boolean | undefined;
}

/** How many rounds of "cancel what is left" shutdown tries before giving up on respawners. */
const SHUTDOWN_ROUNDS = 10;

function noop(): void {}

/** A promise that resolves once `future` is done and the loop has stopped after that iteration. */
function untilDone(loop: Loop, future: Future<unknown>): Promise<void> {
  return new Promise((resolve) => {
    future._addCallback(() => loop._stop(resolve), undefined);
  });
}

/** A promise that resolves once all `tasks` are done. */
function allDone(tasks: Task<unknown>[]): Promise<void> {
  return new Promise((resolve) => {
    let left = tasks.length;
    const one = (): void => {
      if (--left === 0) resolve();
    };
    for (const task of tasks) task._addCallback(one, undefined);
  });
}

/**
 * Runs several main functions on one loop, one after the other (asyncio.Runner). Call
 * `close()` (or use `await using`) when done.
 *
 * @example
 * await using runner = new Runner();
 * await runner.run(async () => setUp());
 * await runner.run(async () => work());
 */
export class Runner {
  readonly #options: RunOptions;
  #loop: Loop | undefined;
  #closed = false;
  #interrupts = 0;
  #inspector: Promise<() => void> | undefined;

  constructor(options: RunOptions = {}) {
    checkOptions("new Runner()", options);
    if (options.debug !== undefined && typeof options.debug !== "boolean") {
      throw typeError("new Runner()", "debug", "a boolean", options.debug);
    }
    if (options.handleSignals !== undefined && typeof options.handleSignals !== "boolean") {
      throw typeError("new Runner()", "handleSignals", "a boolean", options.handleSignals);
    }
    this.#options = options;
  }

  /** The runner's loop, created on first use. */
  getLoop(): Loop {
    if (this.#closed) throw new RuntimeError("Runner is closed");
    if (this.#loop === undefined) {
      this.#loop = new Loop(this.#options);
      const env = process.env.AIOTS_INSPECT;
      if (this.#options.inspect ?? (env !== undefined && env !== "" && env !== "0")) {
        // Loaded only when asked for: it brings node:net and node:fs along.
        const loop = this.#loop;
        this.#inspector = import("../debug/inspector.ts").then((m) => m.startInspector(loop));
        // Never rejects: startInspector reports its own errors.
      }
    }
    return this.#loop;
  }

  /** Run `main` as the main task until it is done; returns its result or throws its error. */
  async run<T>(main: () => PromiseLike<T>): Promise<T> {
    checkFunction("Runner.run()", "main", main);
    if (peekRunningLoop() !== undefined) {
      throw new RuntimeError("Runner.run() cannot be called from a running event loop");
    }
    const loop = this.getLoop();
    if (this.#inspector !== undefined) await this.#inspector; // listening before main starts
    this.#interrupts = 0;
    setRunningLoop(loop);
    let uninstall = noop;
    let task: Task<T>;
    try {
      loop._start();
      task = loop.createTask(main);
      uninstall = this.#handleSigint(task);
      await untilDone(loop, task);
    } finally {
      uninstall();
      setRunningLoop(undefined);
    }
    if (task.cancelled() && this.#interrupts > 0 && task.uncancel() === 0) {
      throw new KeyboardInterrupt();
    }
    return task.result();
  }

  /**
   * Cancel and await the tasks still running, report errors nobody retrieved, close the loop.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const loop = this.#loop;
    if (loop === undefined) return;
    if (peekRunningLoop() !== undefined) {
      throw new RuntimeError("Runner.close() cannot be called from a running event loop");
    }
    setRunningLoop(loop);
    try {
      loop._start();
      await cancelAllTasks(loop);
      await loop.shutdownDefaultExecutor();
      for (const hook of loop._shutdownHooks) await hook();
      loop._reportUnretrieved();
    } finally {
      if (this.#inspector !== undefined) (await this.#inspector)();
      loop._close();
      setRunningLoop(undefined);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #handleSigint(task: Task<unknown>): () => void {
    const wanted =
      this.#options.handleSignals ?? (isMainThread && process.listenerCount("SIGINT") === 0);
    if (!wanted) return noop;
    const onSigint = (): void => {
      this.#interrupts++;
      if (this.#interrupts === 1 && !task.done()) {
        task.cancel();
        return;
      }
      // Second Ctrl-C: give SIGINT back to Node's default behaviour and raise it again.
      process.removeListener("SIGINT", onSigint);
      process.kill(process.pid, "SIGINT");
    };
    process.on("SIGINT", onSigint);
    return () => process.removeListener("SIGINT", onSigint);
  }
}

async function cancelAllTasks(loop: Loop): Promise<void> {
  if (loop.getDebug()) {
    // Debug mode: say what each leftover task was doing; structured code leaves none.
    for (const task of loop._tasks) {
      loop.callExceptionHandler({
        message: "Task was still pending when run() ended; cancelling it",
        task,
        awaiting: describeWaiter(task._waiter) ?? "nothing aiots knows of (a foreign promise?)",
      });
    }
  }
  for (let round = 0; round < SHUTDOWN_ROUNDS && loop._tasks.size > 0; round++) {
    const tasks = [...loop._tasks];
    for (const task of tasks) task.cancel();
    await allDone(tasks);
    for (const task of tasks) {
      if (task.cancelled()) continue;
      const exception = task.exception();
      if (exception !== undefined) {
        loop.callExceptionHandler({
          message: "unhandled exception during run() shutdown",
          exception,
          task,
        });
      }
    }
  }
  for (const task of loop._tasks) {
    loop.callExceptionHandler({ message: "Task was destroyed but it is pending!", task });
  }
}

/**
 * Run `main` as the main task of a new event loop and return its result. Mirrors `asyncio.run`.
 *
 * When `main` settles, the tasks still running are cancelled and awaited, errors that no one
 * retrieved are reported through the loop's exception handler, and the loop is closed. The first
 * Ctrl-C cancels `main` (run then throws `KeyboardInterrupt`); a second one ends the process.
 *
 * @throws {RuntimeError} when called inside a running `run()`.
 * @example
 * const result = await run(async () => {
 *   await sleep(100);
 *   return 42;
 * });
 */
export async function run<T>(main: () => PromiseLike<T>, options?: RunOptions): Promise<T> {
  checkFunction("run()", "main", main);
  if (peekRunningLoop() !== undefined) {
    throw new RuntimeError("run() cannot be called from a running event loop");
  }
  const runner = new Runner(options);
  try {
    return await runner.run(main);
  } finally {
    await runner.close();
  }
}
