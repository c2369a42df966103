/**
 * Test helpers: run a test body under aiots on the virtual clock, and count loop iterations.
 */
import { getRunningLoop, type RunOptions, run, sleep } from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";

/** Run `main` on a fresh loop driven by an autojumping virtual clock. */
export function vrun<T>(main: () => Promise<T>, options: RunOptions = {}): Promise<T> {
  return run(main, { clock: new VirtualClock(), handleSignals: false, ...options });
}

/** Yield for exactly `n` loop iterations (asyncio's "tick"). */
export async function ticks(n = 1): Promise<void> {
  for (let i = 0; i < n; i++) await sleep(0);
}

/** The loop's current time in ms. */
export function now(): number {
  return getRunningLoop().time();
}

/** Collects what the loop's exception handler receives during `main`. */
export async function withHandlerLog<T>(
  main: (log: Record<string, unknown>[]) => Promise<T>,
): Promise<{ result: T; log: Record<string, unknown>[] }> {
  const log: Record<string, unknown>[] = [];
  const result = await vrun(async () => {
    getRunningLoop().setExceptionHandler((_loop, context) => log.push({ ...context }));
    return main(log);
  });
  return { result, log };
}
