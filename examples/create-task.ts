/**
 * `asyncio.create_task`: start coroutines as tasks right away, then await them one by one. They
 * run concurrently, so they finish in order of their delays, not in the order they are awaited.
 *
 * Run: node examples/create-task.ts
 */
import { createTask, run, sleep } from "../src/index.ts";

async function task(name: string, delay: number): Promise<string> {
  console.log(`Task ${name} started`);
  await sleep(delay);
  console.log(`Task ${name} finished after ${delay} ms`);
  return `Result from ${name}`;
}

async function main(): Promise<void> {
  const start = performance.now();
  // Create tasks: each starts on the next loop iteration, without being awaited.
  const taskA = createTask(() => task("A", 100));
  const taskB = createTask(() => task("B", 50));
  const taskC = createTask(() => task("C", 150));

  // Wait for them to finish.
  console.log(await taskA);
  console.log(await taskB);
  console.log(await taskC);
  const ms = Math.round(performance.now() - start);
  console.log(`all three took ${ms} ms`);
}

await run(main);
