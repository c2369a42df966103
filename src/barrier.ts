/**
 * Synchronization primitive: a reusable barrier (asyncio.Barrier), built on a `Condition` as in
 * asyncio. Unlike `threading.Barrier`, cancelling a waiting task does not break it.
 *
 * @module
 */
import { Condition } from "./condition.ts";
import { BrokenBarrierError } from "./errors.ts";
import { checkInteger } from "./validate.ts";

/**
 * The barrier's state:
 * - `filling`: tasks are arriving;
 * - `draining`: the set is complete and its tasks are leaving; newcomers wait for the next cycle;
 * - `resetting`: `reset()` is making the waiting tasks throw; newcomers wait until they have left;
 * - `broken`: `abort()` was called; every `wait()` throws until `reset()`.
 */
export type BarrierState = "filling" | "draining" | "resetting" | "broken";

/** What `Barrier.statistics()` returns. */
export interface BarrierStatistics {
  /** The barrier's state (see `BarrierState`). */
  readonly state: BarrierState;
  /** The number of tasks needed to pass. */
  readonly parties: number;
  /** Tasks waiting for the set to fill (0 while draining), as `nWaiting`. */
  readonly nWaiting: number;
}

/**
 * Blocks tasks until `parties` of them are waiting, then lets them all through; reusable.
 * Mirrors `asyncio.Barrier`.
 *
 * - `wait()` resolves with an index from 0 to `parties - 1`: the number of tasks that were
 *   already waiting when this one arrived. The task that completes the set does not block.
 * - Tasks arriving while the previous set is still leaving wait for the next cycle.
 * - A cancelled waiter just leaves (`nWaiting` decreases); the barrier stays usable.
 * - `reset()` and `abort()` are async because they take the barrier's internal lock.
 * - asyncio's `async with barrier as i:` is `const i = await barrier.wait()`.
 *
 * @example
 * const barrier = new Barrier(3);
 * async function worker(id: number) {
 *   await prepare(id);
 *   await barrier.wait(); // nobody continues before all 3 are prepared
 *   await run(id);
 * }
 */
export class Barrier {
  readonly #cond = new Condition();
  readonly #parties: number;
  #state: BarrierState = "filling";
  // Tasks inside wait() past the entry gate: filling up, or not yet gone while draining.
  #count = 0;

  /**
   * @param parties how many tasks must wait before they are all released.
   * @throws {RangeError} if `parties` is not an integer >= 1.
   */
  constructor(parties: number) {
    checkInteger("new Barrier()", "parties", parties, 1);
    this.#parties = parties;
  }

  /** The number of tasks required to pass the barrier. */
  get parties(): number {
    return this.#parties;
  }

  /** The number of tasks waiting for the set to fill (0 while the barrier drains). */
  get nWaiting(): number {
    return this.#state === "filling" ? this.#count : 0;
  }

  /** True after `abort()`, until `reset()`. */
  get broken(): boolean {
    return this.#state === "broken";
  }

  /**
   * Wait until `parties` tasks are waiting, then pass together. Resolves with this task's
   * arrival index (0 to `parties - 1`).
   *
   * @throws {BrokenBarrierError} if the barrier is broken, or is reset or aborted while waiting.
   * @throws {CancelledError} if the task is cancelled while waiting (the barrier stays intact).
   */
  async wait(): Promise<number> {
    const cond = this.#cond;
    await cond.acquire();
    try {
      await this.#block();
      const index = this.#count++;
      try {
        if (index + 1 === this.#parties) this.#release();
        else await this.#wait();
        return index;
      } finally {
        this.#count--;
        this.#exit();
      }
    } finally {
      cond.release();
    }
  }

  /**
   * Return the barrier to its initial state. Tasks waiting in it throw `BrokenBarrierError`;
   * a broken barrier becomes usable again.
   */
  async reset(): Promise<void> {
    const cond = this.#cond;
    await cond.acquire();
    try {
      // With tasks inside, they must leave (throwing) before new ones may enter.
      this.#state = this.#count > 0 ? "resetting" : "filling";
      cond.notifyAll();
    } finally {
      cond.release();
    }
  }

  /**
   * Break the barrier: waiting tasks and every later `wait()` throw `BrokenBarrierError`
   * ("Barrier aborted") until `reset()`.
   */
  async abort(): Promise<void> {
    const cond = this.#cond;
    await cond.acquire();
    try {
      this.#state = "broken";
      cond.notifyAll();
    } finally {
      cond.release();
    }
  }

  /** A snapshot for debugging: state, parties and waiting tasks. */
  statistics(): BarrierStatistics {
    return { state: this.#state, parties: this.#parties, nWaiting: this.nWaiting };
  }

  /** `<Barrier [filling, waiters:2/5]>`, as asyncio's repr. */
  toString(): string {
    const extra = this.broken ? "" : `, waiters:${this.nWaiting}/${this.#parties}`;
    return `<Barrier [${this.#state}${extra}]>`;
  }

  /** Wait while the previous set drains or a reset completes; throw if broken. */
  async #block(): Promise<void> {
    await this.#cond.waitFor(() => this.#state !== "draining" && this.#state !== "resetting");
    if (this.#state === "broken") throw new BrokenBarrierError("Barrier aborted");
  }

  /** The set is complete: let everyone in it go. */
  #release(): void {
    this.#state = "draining";
    this.#cond.notifyAll();
  }

  /** Wait for the set to complete; throw if the barrier is reset or aborted meanwhile. */
  async #wait(): Promise<void> {
    await this.#cond.waitFor(() => this.#state !== "filling");
    if (this.#state === "broken" || this.#state === "resetting") {
      throw new BrokenBarrierError("Abort or reset of barrier");
    }
  }

  /** The last task out ends a drain or a reset, and lets the blocked newcomers in. */
  #exit(): void {
    if (this.#count === 0) {
      if (this.#state === "resetting" || this.#state === "draining") this.#state = "filling";
      this.#cond.notifyAll();
    }
  }
}
