/**
 * `asyncio.Semaphore`: ten tasks share three permits, so at most three run their critical part at
 * once; the others wait their turn, in the order they asked.
 *
 * Run: node examples/semaphore.ts
 */
import { gather, run, Semaphore, sleep } from "../src/index.ts";

async function main(): Promise<void> {
  const sem = new Semaphore(3);
  let active = 0;
  let maxActive = 0;
  const order: number[] = [];

  async function job(id: number): Promise<void> {
    // asyncio: `async with sem:`
    await sem.withPermit(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      order.push(id);
      console.log(`task ${id} running (${active} at once)`);
      await sleep(5);
      active--;
    });
  }

  await gather(Array.from({ length: 10 }, (_, id) => () => job(id)));
  console.log(`started in order: ${order.join(" ")}`);
  console.log(`at most ${maxActive} at once`);
}

await run(main);
