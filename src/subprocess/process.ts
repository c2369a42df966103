/**
 * Process: a child process with stream pipes (asyncio.subprocess.Process), on
 * `node:child_process`.
 *
 * Beyond asyncio: a task cancelled while it waits for the child (`wait()`, `communicate()`)
 * stops the child before the cancellation propagates: `killSignal` (SIGTERM), then SIGKILL
 * after `killGrace` ms, and waits until it has exited, so no zombie and no orphan is left. And
 * when `run()` ends, the children still running are stopped the same way.
 *
 * @module
 */
import type { ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { Future } from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import { isCancelled, RuntimeError } from "../errors.ts";
import { gather } from "../gather.ts";
import { type LoopResource, track, untrack } from "../streams/loop-resources.ts";
import type { StreamReader } from "../streams/stream-reader.ts";
import { type BytesLike, toBytes } from "../streams/stream-reader.ts";
import type { StreamWriter } from "../streams/stream-writer.ts";
import { rangeError, typeError } from "../validate.ts";

/** A signal, by name (`"SIGTERM"`) or number (`15`). */
export type Signal = NodeJS.Signals | number;

/** @internal How a process is stopped when a wait on it is cancelled, or when run() ends. */
export interface KillPolicy {
  readonly killOnCancel: boolean;
  readonly killSignal: Signal;
  readonly killGrace: number;
}

/** @internal The pipes of a child, as streams. */
export interface Pipes {
  readonly stdin: StreamWriter | null;
  readonly stdout: StreamReader | null;
  readonly stderr: StreamReader | null;
}

/** @internal Validate a signal; returns it. */
export function checkSignal(where: string, name: string, signal: unknown): Signal {
  if (typeof signal === "string") {
    if (Object.hasOwn(constants.signals, signal)) return signal as NodeJS.Signals;
    throw rangeError(where, name, 'a signal name such as "SIGTERM"', signal);
  }
  if (typeof signal === "number") {
    if (Number.isInteger(signal) && signal >= 0) return signal;
    throw rangeError(where, name, "a signal number >= 0", signal);
  }
  throw typeError(where, name, "a signal name or number", signal);
}

/** The errors `communicate()` ignores on stdin: the child closed it or exited (asyncio too). */
function isPipeGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === "EPIPE" || code === "ECONNRESET";
}

function wake(waiters: Set<Future<void>>): void {
  for (const waiter of waiters) if (!waiter.done()) waiter._resolve(undefined);
  waiters.clear();
}

/**
 * A child process started by `createSubprocessExec` or `createSubprocessShell`.
 * Mirrors `asyncio.subprocess.Process`.
 *
 * - `stdin`, `stdout`, `stderr` are a `StreamWriter` and `StreamReader`s when the option was
 *   `PIPE`, else `null`.
 * - `returncode` is `null` while the child runs, then its exit code, or minus the signal number
 *   if a signal killed it (`-9` after `kill()`), as asyncio.
 * - `wait()` and `communicate()` are cancellation points that, unless `killOnCancel: false`,
 *   stop the child (see the module notes) before they throw `CancelledError`.
 *
 * @example
 * const proc = await createSubprocessExec("ls", ["-l"], { stdout: PIPE });
 * const [out] = await proc.communicate();
 * console.log(proc.returncode, out?.toString());
 */
export class Process implements LoopResource {
  /** The child's process id. */
  readonly pid: number;
  /** The child's standard input, when `stdin: PIPE`. */
  readonly stdin: StreamWriter | null;
  /** The child's standard output, when `stdout: PIPE`. */
  readonly stdout: StreamReader | null;
  /** The child's standard error, when `stderr: PIPE`. */
  readonly stderr: StreamReader | null;
  readonly #child: ChildProcess;
  readonly #loop: Loop;
  readonly #policy: KillPolicy;
  #returncode: number | null = null;
  #exited = false;
  #closed = false;
  // Woken when the child exits, and when it has exited and its pipes are closed.
  readonly #exitWaiters = new Set<Future<void>>();
  readonly #closeWaiters = new Set<Future<void>>();
  // For the end of run(), which waits outside any task.
  readonly #exit = Promise.withResolvers<void>();

  /** @internal Use `createSubprocessExec` or `createSubprocessShell`. */
  constructor(child: ChildProcess, loop: Loop, pipes: Pipes, policy: KillPolicy) {
    this.#child = child;
    this.#loop = loop;
    this.#policy = policy;
    this.pid = child.pid ?? -1;
    this.stdin = pipes.stdin;
    this.stdout = pipes.stdout;
    this.stderr = pipes.stderr;
    child.on("exit", (code, signal) => {
      this.#exited = true;
      this.#returncode =
        code ?? -(signal === null ? 0 : (constants.signals[signal as NodeJS.Signals] ?? 0));
      untrack(loop, "process", this);
      wake(this.#exitWaiters);
      this.#exit.resolve();
    });
    child.on("close", () => {
      this.#closed = true;
      wake(this.#closeWaiters);
    });
    track(loop, "process", this);
  }

  /** @internal The spawn failed: nothing to wait for or kill. */
  _failed(): void {
    this.#exited = true;
    this.#closed = true;
    untrack(this.#loop, "process", this);
    this.#exit.resolve();
  }

  /** The exit code, minus the signal number if a signal ended it, or `null` while it runs. */
  get returncode(): number | null {
    return this.#returncode;
  }

  /**
   * Wait for the child to exit and its output pipes to close; returns `returncode`. Several
   * tasks may wait together.
   *
   * As in asyncio, this waits forever if the child fills a pipe nobody reads: read it, or use
   * `communicate()`.
   *
   * @throws {CancelledError} if cancelled; the child is stopped first (see `killOnCancel`).
   */
  async wait(): Promise<number> {
    try {
      await this.#waitFor(this.#closeWaiters, () => this.#closed);
    } catch (error) {
      if (isCancelled(error)) await this.#stopOnCancel();
      throw error;
    }
    return this.#returncode as number;
  }

  /**
   * Send `input` (if given) to stdin and close it, read stdout and stderr until they end, wait
   * for the child to exit; returns `[stdout, stderr]`, each `null` if not piped. The three
   * streams are served concurrently, so a child writing a lot while reading its input never
   * deadlocks. Mirrors `asyncio.subprocess.Process.communicate`.
   *
   * @throws {RuntimeError} if `input` is given but stdin is not a pipe.
   * @throws {CancelledError} if cancelled; the child is stopped first (see `killOnCancel`).
   */
  async communicate(input?: BytesLike | null): Promise<[Buffer | null, Buffer | null]> {
    const data =
      input === undefined || input === null
        ? undefined
        : toBytes("proc.communicate()", "input", input);
    if (data !== undefined && this.stdin === null) {
      throw new RuntimeError("communicate(input) needs the process to be created with stdin: PIPE");
    }
    try {
      const [, out, err] = await gather(
        () => this.#feedStdin(data),
        () => readAll(this.stdout),
        () => readAll(this.stderr),
      );
      await this.#waitFor(this.#closeWaiters, () => this.#closed);
      return [out, err];
    } catch (error) {
      if (isCancelled(error)) await this.#stopOnCancel();
      throw error;
    }
  }

  async #feedStdin(data: Uint8Array | undefined): Promise<void> {
    const stdin = this.stdin;
    if (stdin === null) return;
    try {
      if (data !== undefined) stdin.write(data);
      await stdin.drain();
    } catch (error) {
      if (!isPipeGone(error)) throw error;
    }
    stdin.close();
  }

  /**
   * Send `signal` to the child (a name such as `"SIGHUP"` or a number); nothing happens once
   * it has exited.
   *
   * @throws {RangeError} for an unknown signal.
   */
  sendSignal(signal: Signal): void {
    const sig = checkSignal("proc.sendSignal()", "signal", signal);
    if (!this.#exited) this.#child.kill(sig);
  }

  /** Send SIGTERM. */
  terminate(): void {
    this.sendSignal("SIGTERM");
  }

  /** Send SIGKILL. */
  kill(): void {
    this.sendSignal("SIGKILL");
  }

  /** `<Process 1234 returncode=0>`. */
  toString(): string {
    const state = this.#returncode === null ? "running" : `returncode=${this.#returncode}`;
    return `<Process ${this.pid} ${state}>`;
  }

  // ---------------------------------------------------------------- internals

  /** Wait, as a cancellation point, until `done()`; `waiters` are woken when it may be. */
  async #waitFor(waiters: Set<Future<void>>, done: () => boolean): Promise<void> {
    while (!done()) {
      const waiter = new Future<void>(this.#loop);
      waiters.add(waiter);
      try {
        await waiter;
      } finally {
        waiters.delete(waiter);
      }
    }
  }

  /** A wait was cancelled: stop the child, unless `killOnCancel` is off. */
  async #stopOnCancel(): Promise<void> {
    if (this.#policy.killOnCancel) await this._stop(true);
  }

  /**
   * Stop the child: `killSignal`, SIGKILL after `killGrace` ms, and wait until it has exited
   * (Node reaps it then). A cancellation during the grace period sends SIGKILL at once; the
   * wait for the exit itself goes on, since SIGKILL cannot be ignored. The pipes are closed
   * afterwards: a grandchild may still hold them open.
   *
   * @internal
   */
  async _stop(inTask: boolean): Promise<void> {
    if (this.#exited) return;
    const { killSignal, killGrace } = this.#policy;
    this.#signal(killSignal);
    if (!inTask) {
      // The end of run(): no task to wait in, a plain timer and promise will do.
      const timer = setTimeout(() => this.#signal("SIGKILL"), killGrace);
      await this.#exit.promise;
      clearTimeout(timer);
      this.#closePipes();
      return;
    }
    const timer = this.#loop.callLater(killGrace, () => this.#signal("SIGKILL"));
    try {
      while (!this.#exited) {
        try {
          await this.#waitFor(this.#exitWaiters, () => this.#exited);
        } catch (error) {
          if (!isCancelled(error)) throw error;
          this.#signal("SIGKILL");
        }
      }
    } finally {
      timer.cancel();
    }
    this.#closePipes();
  }

  #signal(signal: Signal): void {
    if (this.#exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone: the 'exit' event is on its way.
    }
  }

  #closePipes(): void {
    this.stdin?.abort();
    for (const stream of [this.#child.stdout, this.#child.stderr]) stream?.destroy();
  }

  /** @internal Stop the child at the end of run(). */
  _shutdown(): Promise<void> {
    return this._stop(false);
  }
}

async function readAll(reader: StreamReader | null): Promise<Buffer | null> {
  return reader === null ? null : reader.read();
}
