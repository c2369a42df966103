/**
 * Small helpers for the ported asyncio behaviour cases.
 */
import { expect } from "vitest";

/** Await `aw` and return what it threw; fails the test if it did not throw. */
export async function errorOf(aw: PromiseLike<unknown>): Promise<unknown> {
  try {
    await aw;
  } catch (error) {
    return error;
  }
  throw new Error("expected the awaitable to throw, but it succeeded");
}

/**
 * `fn()` must throw an instance of `type` whose message contains every fragment (the argument's
 * name and the rendering of the bad value, per the API contract).
 */
export function expectArgError(
  fn: () => unknown,
  type: typeof TypeError | typeof RangeError,
  ...fragments: string[]
): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(type);
  // A RangeError is not a TypeError and vice versa: check the exact class.
  expect((thrown as Error).constructor).toBe(type);
  for (const fragment of fragments) expect((thrown as Error).message).toContain(fragment);
}
