/**
 * Nested coroutines: a coroutine that awaits other coroutines runs them one after the other, in
 * its own task. No new task is created for them, which is why a cancellation reaches an await
 * however deeply it is nested.
 *
 * Run: node examples/nested-coroutines.ts
 */
import { currentTask, run, sleep, type Task } from "../src/index.ts";

let mainTask: Task | undefined;

async function myCoroutine(): Promise<void> {
  console.log("Coroutine started");
  await sleep(100); // simulates an I/O-bound operation
  console.log("Coroutine finished");
}

async function greet(name: string): Promise<void> {
  await sleep(100);
  console.log(`Hello, ${name}! (in the main task: ${currentTask() === mainTask})`);
}

async function main(): Promise<void> {
  mainTask = currentTask();
  console.log("Starting main coroutine");
  const start = performance.now();
  await myCoroutine();
  await greet("Alice");
  await greet("Bob");
  const ms = Math.round(performance.now() - start);
  console.log(`Finished main coroutine after ${ms} ms`);
}

await run(main);
