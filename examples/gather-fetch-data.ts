/**
 * `asyncio.gather` of `fetch_data` coroutines: three simulated requests run concurrently, so the
 * whole batch takes as long as one request, and the results come back in argument order.
 *
 * Run: node examples/gather-fetch-data.ts
 */
import { gather, run, sleep } from "../src/index.ts";

async function fetchData(id: number): Promise<string> {
  console.log(`Fetching ${id}...`);
  await sleep(100); // simulates network I/O
  return `Data ${id}`;
}

async function main(): Promise<void> {
  const start = performance.now();
  // A coroutine is a function in aiots: gather starts each one as its own task.
  const results = await gather(
    () => fetchData(1),
    () => fetchData(2),
    () => fetchData(3),
  );
  console.log(results);
  const ms = Math.round(performance.now() - start);
  console.log(`3 fetches of 100 ms each took ${ms} ms`);
}

await run(main);
