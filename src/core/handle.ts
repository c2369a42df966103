/**
 * Handles for callbacks scheduled on the loop (`asyncio.Handle`, `asyncio.TimerHandle`).
 *
 * A callback scheduled through the public API (`callSoon`, `callLater`, `callAt`,
 * `addDoneCallback`) runs in the async context of the code that scheduled it, as asyncio runs
 * each callback in the context copied at scheduling time. It is bound to that context the cheap
 * way: as the reaction of a pending promise registered there; when the callback is due, the
 * loop resolves the promise, and the callback runs right after the iteration, in FIFO order with
 * the tasks the iteration woke.
 *
 * @module
 */
import { setInLoopCallbacks, taskStorage } from "./context.ts";
import type { Loop } from "./loop.ts";
import type { TimerEntry } from "./timer-heap.ts";

/** A callback scheduled with `loop.callSoon`; `cancel()` stops it from running. */
export class Handle {
  /** @internal */ _callback: ((...args: never[]) => unknown) | undefined;
  /** @internal spread arguments (public callbacks), or undefined to pass `_arg` alone */
  _args: unknown[] | undefined;
  /** @internal the single argument of an internal callback */ _arg: unknown;
  /** @internal */ _cancelled = false;
  /** @internal for a bound callback: lets it run (see bindHandle) */
  _open: (() => void) | undefined = undefined;

  /** @internal */
  constructor(callback: (...args: never[]) => unknown, args: unknown[] | undefined, arg?: unknown) {
    this._callback = callback;
    this._args = args;
    this._arg = arg;
  }

  /** Prevent the callback from running; no effect if it already ran. */
  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    this._callback = undefined;
    this._args = undefined;
    this._arg = undefined;
  }

  cancelled(): boolean {
    return this._cancelled;
  }

  /** @internal */
  _run(): void {
    const cb = this._callback;
    if (cb === undefined) return;
    const args = this._args;
    if (args === undefined) (cb as (arg: unknown) => unknown)(this._arg);
    else (cb as (...args: unknown[]) => unknown)(...args);
  }

  toString(): string {
    const name = this._callback?.name || "<anonymous>";
    return `<${this.constructor.name}${this._cancelled ? " cancelled" : ""} ${name}()>`;
  }
}

/** A callback scheduled for a time with `loop.callLater`/`loop.callAt`. */
export class TimerHandle extends Handle implements TimerEntry {
  /** @internal */ readonly _when: number;
  /** @internal */ _seq: number;
  /** @internal position in the timer heap, -1 when not in it */ _index = -1;
  /** @internal */ _onCancel: ((h: TimerHandle) => void) | undefined;

  /** @internal */
  constructor(
    when: number,
    seq: number,
    callback: (...args: never[]) => unknown,
    args: unknown[] | undefined,
    arg?: unknown,
  ) {
    super(callback, args, arg);
    this._when = when;
    this._seq = seq;
  }

  /** The absolute loop time (ms) at which the callback is due. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (this._cancelled) return;
    super.cancel();
    this._onCancel?.(this);
  }

  /** @internal */
  _fire(): void {
    runHandle(this);
  }
}

/** @internal Run a due handle: open its gate if it is bound to a context, else call it here. */
export function runHandle(handle: Handle): void {
  const open = handle._open;
  if (open === undefined) {
    handle._run();
  } else {
    handle._open = undefined;
    open();
  }
}

function register(handle: Handle, loop: Loop): void {
  const { promise, resolve } = Promise.withResolvers<void>();
  void promise.then(() => runBound(handle, loop));
  handle._open = resolve;
}

/**
 * @internal Bind `handle` to the caller's async context (see the module comment), minus the
 * current task: a callback is not task code, even when a task scheduled it.
 */
export function bindHandle(handle: Handle, loop: Loop): Handle {
  const previous = setInLoopCallbacks(false);
  try {
    taskStorage.exit(register, handle, loop);
  } finally {
    setInLoopCallbacks(previous);
  }
  return handle;
}

function runBound(handle: Handle, loop: Loop): void {
  if (handle._cancelled) return;
  const debug = loop.getDebug();
  const t0 = debug ? performance.now() : 0;
  try {
    handle._run();
  } catch (error) {
    loop.callExceptionHandler({
      message: `Exception in callback ${handle.toString()}`,
      exception: error,
      handle,
    });
  }
  if (debug) loop._checkSlow(t0, handle.toString());
}
