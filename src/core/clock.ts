/**
 * Where the loop's time comes from, and how it sleeps when it has nothing to run.
 *
 * The loop never calls `setTimeout` itself: every deadline (sleep, timeout, callLater) lives in
 * the loop's own timer heap, and the loop hands only the earliest one to its clock. That makes
 * the virtual clock of `aiots/testing` a drop-in replacement (trio's `MockClock` idea).
 *
 * @module
 */

/** A time source for the event loop; all times are milliseconds. */
export interface Clock {
  /** Current time in milliseconds; monotonic. `loop.time()` returns this. */
  now(): number;
  /**
   * The loop has nothing ready to run. Call `wake` once the clock reaches `deadline` (the next
   * timer), or never if `deadline` is null. Each call replaces the previous request.
   */
  idle(deadline: number | null, wake: () => void): void;
  /** The loop has work again; a clock that jumps time on idleness cancels its pending jump. */
  busy?(): void;
  /** The loop is closing: release any timer or handle. */
  close?(): void;
}

/** The real clock: `performance.now()` and one Node timer for the earliest deadline. */
export class SystemClock implements Clock {
  #timer: NodeJS.Timeout | undefined;
  #deadline: number | null = null;
  #wake: (() => void) | undefined;
  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#deadline = null;
    this.#wake?.();
  };

  now(): number {
    return performance.now();
  }

  idle(deadline: number | null, wake: () => void): void {
    if (deadline === Number.POSITIVE_INFINITY) deadline = null;
    // Going idle again with the same next deadline is the common case: keep the armed timer.
    if (deadline === this.#deadline && (deadline === null || this.#timer !== undefined)) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#deadline = deadline;
    this.#wake = wake;
    if (deadline === null) return;
    // Node timers have 1 ms granularity and can fire a hair early against performance.now():
    // the loop simply goes idle again and re-arms if nothing was due yet.
    const delay = Math.max(1, Math.ceil(deadline - performance.now()));
    this.#timer = setTimeout(this.#fire, Math.min(delay, 0x7fffffff));
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#deadline = null;
  }
}
