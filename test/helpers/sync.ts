/**
 * Helpers for the synchronization and queue tests.
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

/** `fn()` must throw exactly `type`, with every fragment in its message. */
export function expectThrows(
  fn: () => unknown,
  type: abstract new (...args: never[]) => Error,
  ...fragments: string[]
): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(type);
  expect((thrown as Error).constructor).toBe(type);
  for (const fragment of fragments) expect((thrown as Error).message).toContain(fragment);
}
