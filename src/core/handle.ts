/**
 * Handles for callbacks scheduled on the loop (`asyncio.Handle`, `asyncio.TimerHandle`).
 *
 * @module
 */

/** A callback scheduled with `loop.callSoon`; `cancel()` stops it from running. */
export class Handle {
  /** @internal */ _callback: ((...args: never[]) => unknown) | undefined;
  /** @internal spread arguments (public callbacks), or undefined to pass `_arg` alone */
  _args: unknown[] | undefined;
  /** @internal the single argument of an internal callback */ _arg: unknown;
  /** @internal */ _cancelled = false;

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
export class TimerHandle extends Handle {
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
}
