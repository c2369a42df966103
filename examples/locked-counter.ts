/**
 * `asyncio.Lock`: ten tasks increment a shared counter with a read, a pause and a write. Without
 * the lock they all read the same value and the increments are lost; with it, the count is 10.
 *
 * Run: node examples/locked-counter.ts
 */
import { gather, Lock, run, sleep } from "../src/index.ts";

async function main(): Promise<void> {
  let unsafe = 0;
  let counter = 0;
  const lock = new Lock();

  async function incrementUnsafely(): Promise<void> {
    const value = unsafe;
    await sleep(1); // another task runs here and reads the same value
    unsafe = value + 1;
  }

  async function increment(): Promise<void> {
    // asyncio: `async with lock:`
    await lock.withLock(async () => {
      const value = counter;
      await sleep(1);
      counter = value + 1;
    });
  }

  await gather(Array.from({ length: 10 }, () => incrementUnsafely));
  console.log(`without the lock: counter = ${unsafe}`);

  await gather(Array.from({ length: 10 }, () => increment));
  console.log(`with the lock: counter = ${counter}`);
}

await run(main);
