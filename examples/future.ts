/**
 * A Future resolved by another coroutine (asyncio's `loop.create_future()`): one task waits on
 * it, another one sets its result after a delay.
 *
 * Run: node examples/future.ts
 */
import { type Future, gather, getRunningLoop, run, sleep } from "../src/index.ts";

// Waits for the future to be resolved.
async function waiter(future: Future<string>): Promise<void> {
  console.log("Waiting for future result...");
  const result = await future; // suspends here until the future is resolved
  console.log(`Future completed with result: ${result}`);
}

// Resolves the future after a delay.
async function resolver(future: Future<string>): Promise<void> {
  console.log("Resolver sleeping for 200 ms...");
  await sleep(200);
  future.setResult("Task completed!");
  console.log("Resolver has set the future result.");
}

async function main(): Promise<void> {
  const start = performance.now();
  const future = getRunningLoop().createFuture<string>(); // starts unresolved
  // Run both concurrently: one waits, the other resolves.
  await gather(
    () => waiter(future),
    () => resolver(future),
  );
  const ms = Math.round(performance.now() - start);
  console.log(`Execution time: ${ms} ms`);
}

await run(main);
