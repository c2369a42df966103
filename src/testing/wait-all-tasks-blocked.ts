/**
 * `waitAllTasksBlocked()`: wait until every other task is blocked (trio's
 * `wait_all_tasks_blocked`), for tests that need "everyone has done all they can".
 *
 * @module
 */
import { getRunningLoop } from "../core/context.ts";
import { RuntimeError } from "../errors.ts";
import { sleep } from "../sleep.ts";
import { checkInteger } from "../validate.ts";

/**
 * Resolve once no other task can run: nothing is queued on the loop and no timer is due. Other
 * tasks are then blocked on futures, timers, or I/O. Yields at most `maxIterations` times.
 *
 * @throws {RuntimeError} if the loop never goes quiet within `maxIterations` (a task spinning on
 *   `sleep(0)`, say).
 */
export async function waitAllTasksBlocked(maxIterations = 10_000): Promise<void> {
  checkInteger("waitAllTasksBlocked()", "maxIterations", maxIterations, 1);
  const loop = getRunningLoop();
  for (let i = 0; i < maxIterations; i++) {
    await sleep(0);
    if (loop._isQuiet()) return;
  }
  throw new RuntimeError(
    `waitAllTasksBlocked(): the loop was still busy after ${maxIterations} iterations`,
  );
}
