/**
 * `asyncio.wait_for` with a timeout. Unlike `Promise.race` with a timer, the slow work is really
 * stopped: it gets `CancelledError` at the await where it is suspended, and makes no further
 * progress once `waitFor` has thrown.
 *
 * Run: node examples/wait-for-timeout.ts
 */
import { isCancelled, run, sleep, TimeoutError, waitFor } from "../src/index.ts";

let steps = 0;

// A slow operation: 100 steps of 50 ms, five seconds in all.
async function slowTask(): Promise<void> {
  console.log("Slow task starting...");
  try {
    for (let i = 0; i < 100; i++) {
      await sleep(50);
      steps++;
    }
    console.log("Slow task completed.");
  } catch (e) {
    if (isCancelled(e)) console.log(`Slow task cancelled during step ${steps + 1} of 100`);
    throw e; // let the cancellation through: waitFor turns it into TimeoutError
  }
}

async function main(): Promise<void> {
  const start = performance.now();
  try {
    await waitFor(slowTask, 120);
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    console.log(`Task timed out! (${e.name}, cause: ${(e.cause as Error).name})`);
  }
  const ms = Math.round(performance.now() - start);
  console.log(`Execution time: ${ms} ms`);

  // Proof that the work stopped: no step happens after the timeout.
  const before = steps;
  await sleep(100);
  console.log(`Steps 100 ms later: ${steps} (was ${before})`);
}

await run(main);
