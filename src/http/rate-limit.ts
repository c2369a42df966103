/**
 * A per-host request rate limit: a small token bucket on the aiots clock, so that it follows
 * the virtual clock in tests and a waiting request can be cancelled like any `sleep`.
 *
 * @module
 */
import { getRunningLoop, sleep } from "../index.ts";

/**
 * A token bucket holding at most `burst` tokens, refilled at `perSecond` tokens per second.
 * `acquire()` takes one token, waiting until it is due.
 *
 * Waiters reserve their token when they arrive (the balance goes negative), so they are served
 * in arrival order and each sleeps exactly until its own token is due: no polling.
 */
export class RateLimiter {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #last: number | undefined;

  /**
   * @param perSecond tokens added per second (> 0).
   * @param burst the bucket's size: how many requests may go at once after a quiet spell
   *   (default 1: requests are evenly spaced, 1000 / perSecond ms apart).
   */
  constructor(perSecond: number, burst = 1) {
    if (!(typeof perSecond === "number" && perSecond > 0 && Number.isFinite(perSecond))) {
      throw new RangeError(
        `new RateLimiter(): "perSecond" must be a finite number > 0, got ${String(perSecond)}`,
      );
    }
    if (!(Number.isInteger(burst) && burst >= 1)) {
      throw new RangeError(`new RateLimiter(): "burst" must be an integer >= 1, got ${burst}`);
    }
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
    this.#tokens = burst;
  }

  /** Take a token, sleeping until one is due. A cancelled wait gives its token back. */
  async acquire(): Promise<void> {
    const now = getRunningLoop().time();
    if (this.#last !== undefined) {
      this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#perMs);
    }
    this.#last = now;
    this.#tokens -= 1;
    if (this.#tokens >= 0) return;
    try {
      await sleep(-this.#tokens / this.#perMs);
    } catch (error) {
      this.#tokens += 1;
      throw error;
    }
  }
}
