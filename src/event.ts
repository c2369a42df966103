/**
 * Synchronization primitive: an event flag that tasks wait for (asyncio.Event).
 *
 * @module
 */
import { type Future, WaitFuture } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import { Deque } from "./deque.ts";
import { RESOLVED_TRUE } from "./lock.ts";
import { bindLoop, waitInQueue } from "./waiting.ts";

/** What `Event.statistics()` returns. */
export interface EventStatistics {
  /** Whether the flag is set. */
  readonly isSet: boolean;
  /** How many tasks are blocked in `wait()`. */
  readonly tasksWaiting: number;
}

/**
 * A flag, initially false: `wait()` blocks until `set()` makes it true; `clear()` resets it.
 * Mirrors `asyncio.Event`.
 *
 * `set()` wakes every waiting task; a task already woken still returns `true` even if `clear()`
 * runs before it resumes.
 *
 * @example
 * const ready = new Event();
 * createTask(async () => {
 *   await ready.wait();
 *   console.log("go");
 * });
 * ready.set();
 */
export class Event {
  #value = false;
  // Futures of the tasks blocked in wait(); each task removes its own when it resumes.
  readonly #waiters = new Deque<Future<true>>();
  #loop: Loop | undefined = undefined;

  /** True if the flag is set. */
  isSet(): boolean {
    return this.#value;
  }

  /** Set the flag and wake every waiting task. Setting it again does nothing. */
  set(): void {
    if (this.#value) return;
    this.#value = true;
    const waiters = this.#waiters;
    for (let i = 0; i < waiters.length; i++) {
      const fut = waiters.at(i);
      if (!fut.done()) fut._resolve(true);
    }
  }

  /** Reset the flag: later `wait()` calls block until the next `set()`. */
  clear(): void {
    this.#value = false;
  }

  /**
   * Wait until the flag is set; resolves with `true`. Returns at once, without suspending, if it
   * is set already.
   *
   * @throws {CancelledError} if the task is cancelled while waiting.
   */
  wait(): Promise<true> {
    if (this.#value) return RESOLVED_TRUE;
    return this.#waitSlow();
  }

  #waitSlow(): Promise<true> {
    let loop: Loop;
    try {
      loop = bindLoop(this.#loop, this);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.#loop = loop;
    return waitInQueue(new WaitFuture<true>(loop, this, "wait"), this.#waiters);
  }

  /** A snapshot for debugging: the flag and how many tasks wait. */
  statistics(): EventStatistics {
    return { isSet: this.#value, tasksWaiting: this.#waiters.length };
  }

  /** `<Event [set, waiters:1]>`, as asyncio's repr. */
  toString(): string {
    const waiting = this.#waiters.length;
    return `<Event [${this.#value ? "set" : "unset"}${waiting > 0 ? `, waiters:${waiting}` : ""}]>`;
  }
}
