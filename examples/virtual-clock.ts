/**
 * The virtual clock of `aiots/testing`: time stands still while tasks run and jumps to the next
 * timer as soon as every task is waiting, so an hour of sleeps and timeouts runs in
 * milliseconds, the same way every time. Made for tests.
 *
 * Run: node examples/virtual-clock.ts
 */
import { getRunningLoop, run, sleep, TimeoutError, timeout } from "../src/index.ts";
import { VirtualClock } from "../src/testing/index.ts";

async function main(): Promise<void> {
  const loop = getRunningLoop();
  await sleep(3_600_000); // an hour
  console.log(`after sleep(3_600_000): loop time ${loop.time()} ms`);
  try {
    await timeout(5_000, () => sleep(60_000));
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    console.log(`timeout(5_000) expired at loop time ${loop.time()} ms`);
  }
}

const start = performance.now();
await run(main, { clock: new VirtualClock() });
console.log(`real time: ${Math.round(performance.now() - start)} ms`);
