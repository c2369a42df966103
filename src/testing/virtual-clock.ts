/**
 * A virtual clock for tests (trio's MockClock): time moves only when told to, or, with autojump,
 * the moment every task is blocked and the next thing that can happen is a timer.
 *
 * @module
 */
import type { Clock } from "../core/clock.ts";
import { peekRunningLoop } from "../core/context.ts";
import { checkNumber, checkOptions, typeError } from "../validate.ts";

/** Options of `new VirtualClock()`. */
export interface VirtualClockOptions {
  /**
   * Jump to the next timer as soon as the loop is idle (default true). With false, time moves
   * only through `advance()`.
   */
  autojump?: boolean | undefined;
  /** The initial time in ms (default 0). */
  start?: number | undefined;
}

/**
 * A `Clock` for `run(main, { clock })` under which an hour of `sleep` takes no real time and
 * every run interleaves the same way.
 *
 * "Idle" means: the loop has nothing ready, and one turn of Node's event loop (I/O callbacks,
 * `setImmediate`) has passed without anything new to do. Then, with autojump, time jumps to the
 * next timer's deadline.
 *
 * @example
 * const clock = new VirtualClock();
 * await run(async () => {
 *   await sleep(3_600_000); // an hour, instantly
 *   console.log(getRunningLoop().time()); // 3600000
 * }, { clock });
 */
export class VirtualClock implements Clock {
  #now: number;
  #autojump: boolean;
  #deadline: number | null = null;
  #wake: (() => void) | undefined;
  #jump: NodeJS.Immediate | undefined;

  constructor(options: VirtualClockOptions = {}) {
    checkOptions("new VirtualClock()", options);
    const start = options.start ?? 0;
    checkNumber("new VirtualClock()", "start", start);
    if (options.autojump !== undefined && typeof options.autojump !== "boolean") {
      throw typeError("new VirtualClock()", "autojump", "a boolean", options.autojump);
    }
    this.#now = start;
    this.#autojump = options.autojump ?? true;
  }

  now(): number {
    return this.#now;
  }

  /** Whether time jumps by itself when every task is blocked. */
  get autojump(): boolean {
    return this.#autojump;
  }

  set autojump(value: boolean) {
    this.#autojump = value;
    if (value && this.#deadline !== null && this.#wake !== undefined) this.#scheduleJump();
  }

  /** The deadline of the next timer while the loop is idle, else null. */
  nextDeadline(): number | null {
    return this.#deadline;
  }

  idle(deadline: number | null, wake: () => void): void {
    this.#deadline = deadline;
    this.#wake = wake;
    this.#cancelJump();
    if (this.#autojump && deadline !== null) this.#scheduleJump();
  }

  busy(): void {
    this.#deadline = null;
    this.#cancelJump();
  }

  close(): void {
    this.#cancelJump();
    this.#deadline = null;
    this.#wake = undefined;
  }

  /** Move time forward by `ms`, firing the timers that become due. */
  advance(ms: number): void {
    checkNumber("clock.advance()", "ms", ms);
    if (ms < 0) throw new RangeError(`clock.advance(): "ms" must be >= 0, got ${ms} (number)`);
    this.#now += ms;
    const deadline = this.#deadline;
    if (deadline !== null && deadline <= this.#now) this.#fire();
  }

  /**
   * Jump to the next timer's deadline (of the running loop, or the one the idle loop reported);
   * returns the new time, or null if there is no timer.
   */
  advanceToNextTimer(): number | null {
    const deadline = peekRunningLoop()?._nextDeadline() ?? this.#deadline;
    if (deadline === null) return null;
    this.advance(Math.max(0, deadline - this.#now));
    return this.#now;
  }

  #scheduleJump(): void {
    // One turn of Node's event loop first: pending I/O and immediates may still bring work.
    this.#jump = setImmediate(() => {
      this.#jump = undefined;
      const deadline = this.#deadline;
      if (deadline === null) return;
      if (deadline > this.#now) this.#now = deadline;
      this.#fire();
    });
  }

  #cancelJump(): void {
    if (this.#jump !== undefined) clearImmediate(this.#jump);
    this.#jump = undefined;
  }

  #fire(): void {
    const wake = this.#wake;
    this.#deadline = null;
    wake?.();
  }
}
