/**
 * Small helpers for the ported asyncio behaviour cases.
 */
import { expectThrows } from "./sync.ts";

export { errorOf } from "./sync.ts";

/**
 * `fn()` must throw exactly `type` (a RangeError is not a TypeError, and the reverse) with every
 * fragment in its message: the argument's name and the rendering of the bad value, per the API
 * contract.
 */
export function expectArgError(
  fn: () => unknown,
  type: typeof TypeError | typeof RangeError,
  ...fragments: string[]
): void {
  expectThrows(fn, type, ...fragments);
}
