/**
 * The total timeouts of a session's requests, kept by one loop timer instead of one per request.
 *
 * Each request runs in an aiots `timeoutAt(null, ...)` scope (a timeout with no deadline yet,
 * which costs no timer) and registers the scope here with its deadline. One `loop.callAt` timer
 * waits for the earliest deadline; when it fires, every scope that is due is given its deadline
 * with `scope.reschedule(deadline)`, and from there it is an ordinary aiots timeout: the task is
 * cancelled and the scope raises `TimeoutError`. A request that ends unregisters its scope.
 *
 * Why: a per-request timer costs the loop a heap insertion, a wake-up and, as requests finish
 * out of order, re-arming its Node timer; at 10k requests per second that was 15% of the
 * client's time. Deadlines here are `now + total`, so they arrive in order and the list is a
 * FIFO: registering is a push, and the timer is re-armed only when it fires.
 *
 * @internal
 * @module
 */
import { getRunningLoop, type Loop, type Timeout, type TimerHandle } from "../index.ts";

/** A registered scope. */
export interface DeadlineEntry {
  readonly scope: Timeout;
  readonly deadline: number;
  active: boolean;
}

/** The deadlines of the scopes of one session, on one loop. */
export class Deadlines {
  #loop: Loop | undefined;
  /** Entries by deadline; `#head` is the first one not yet dropped. */
  #entries: DeadlineEntry[] = [];
  #head = 0;
  #active = 0;
  #timer: TimerHandle | undefined;
  #armedAt = Number.POSITIVE_INFINITY;
  readonly #fire = (): void => this.#expire();

  /** Register `scope`, to be given `deadline` (loop time) once that time comes. */
  add(scope: Timeout, deadline: number): DeadlineEntry {
    const loop = getRunningLoop();
    if (loop !== this.#loop) {
      // A new run(): the old loop's timer died with it.
      this.#loop = loop;
      this.#entries = [];
      this.#head = 0;
      this.#active = 0;
      this.#timer = undefined;
      this.#armedAt = Number.POSITIVE_INFINITY;
    }
    const entry: DeadlineEntry = { scope, deadline, active: true };
    const entries = this.#entries;
    const last = entries.at(-1);
    if (last === undefined || last.deadline <= deadline) {
      entries.push(entry);
    } else {
      // Out of order (a request with its own, shorter total): insert in place.
      let lo = this.#head;
      let hi = entries.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((entries[mid] as DeadlineEntry).deadline <= deadline) lo = mid + 1;
        else hi = mid;
      }
      entries.splice(lo, 0, entry);
    }
    this.#active++;
    if (deadline < this.#armedAt) this.#arm(deadline);
    return entry;
  }

  /** The request ended: its scope needs no deadline any more. */
  remove(entry: DeadlineEntry): void {
    if (!entry.active) return;
    entry.active = false;
    this.#active--;
    this.#dropInactive();
  }

  #arm(when: number): void {
    this.#timer?.cancel();
    this.#armedAt = when;
    this.#timer = (this.#loop as Loop).callAt(when, this.#fire);
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = (this.#loop as Loop).time();
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head] as DeadlineEntry;
      if (entry.active) {
        if (entry.deadline > now) {
          this.#arm(entry.deadline);
          break;
        }
        // From here on, the scope's own timer does the rest (its deadline is already past, so
        // it fires on the next iteration).
        entry.active = false;
        this.#active--;
        entry.scope.reschedule(entry.deadline);
      }
      this.#head++;
    }
    this.#compact();
  }

  #dropInactive(): void {
    const entries = this.#entries;
    while (this.#head < entries.length && !(entries[this.#head] as DeadlineEntry).active) {
      this.#head++;
    }
    this.#compact();
  }

  /** Keep the list about as long as the number of requests running. */
  #compact(): void {
    const entries = this.#entries;
    const live = entries.length - this.#head;
    if (this.#head === entries.length) {
      this.#entries = [];
      this.#head = 0;
    } else if (live > 2 * this.#active + 64) {
      // A long request at the head keeps finished ones behind it: filter them out.
      this.#entries = entries.slice(this.#head).filter((e) => e.active);
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
  }
}
