/**
 * Test helpers for the wait / timeouts / task-group / runner suites: catching an expected
 * rejection inside a task, Python-named error classes, and the member types of an
 * ExceptionGroup.
 */
import { expect } from "vitest";
import { currentTask, ExceptionGroup, type Task } from "../../src/index.ts";

/**
 * Await `aw` (or call it and await the result) and return what it threw. A synchronous throw
 * counts too, so an argument check is caught whether it throws or rejects. Fails if it resolves.
 */
export async function caught(aw: PromiseLike<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof aw === "function" ? aw() : aw);
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but it resolved");
}

// Python's built-in exception names, as plain Error subclasses.
export class ZeroDivisionError extends Error {
  override name = "ZeroDivisionError";
}
export class ValueError extends Error {
  override name = "ValueError";
}
export class KeyError extends Error {
  override name = "KeyError";
}
export class MyExc extends Error {
  override name = "MyExc";
}

/** The classes of the direct members of an ExceptionGroup (Python's `get_error_types`). */
export function errorTypes(error: unknown): Set<unknown> {
  if (!(error instanceof ExceptionGroup)) {
    throw new Error(`expected an ExceptionGroup, got ${String(error)}`);
  }
  return new Set(error.exceptions.map((e) => (e as object).constructor));
}

/** Assert that `actual` holds exactly the `expected` objects (by identity). */
export function expectSet<T>(actual: Set<T>, expected: readonly T[]): void {
  expect(actual.size).toBe(new Set(expected).size);
  for (const item of expected) expect(actual.has(item)).toBe(true);
}

/** The current task; throws outside a task. */
export function me(): Task<unknown> {
  const task = currentTask();
  if (task === undefined) throw new Error("not inside a task");
  return task;
}
