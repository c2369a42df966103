/**
 * TaskGroup (asyncio.TaskGroup): every task started in the group is awaited before the group
 * returns. When one fails, its siblings are cancelled, and the failures are thrown together as
 * an ExceptionGroup.
 *
 * Run: node examples/task-group.ts
 */
import { ExceptionGroup, isCancelled, run, sleep, taskGroup } from "../src/index.ts";

async function fetchData(id: number, ms: number): Promise<string> {
  await sleep(ms);
  return `Data ${id}`;
}

async function slowSibling(): Promise<void> {
  try {
    await sleep(5_000);
    console.log("sibling: finished"); // never printed
  } catch (e) {
    if (isCancelled(e)) console.log("sibling: cancelled because another task failed");
    throw e;
  }
}

async function failSoon(): Promise<never> {
  await sleep(50);
  throw new Error("connection reset");
}

async function main(): Promise<void> {
  // All succeed: the group waits for every task.
  const tasks = await taskGroup(async (tg) => [
    tg.createTask(() => fetchData(1, 50)),
    tg.createTask(() => fetchData(2, 100)),
  ]);
  console.log(`results: ${tasks.map((t) => t.result()).join(", ")}`);

  // One fails: the sibling and the body are cancelled, the error comes out in a group.
  const start = performance.now();
  try {
    await taskGroup(async (tg) => {
      tg.createTask(slowSibling);
      tg.createTask(failSoon);
    });
  } catch (e) {
    if (!(e instanceof ExceptionGroup)) throw e;
    const messages = e.exceptions.map((x) => (x as Error).message);
    console.log(`${e.name}: ${e.message} [${messages.join(", ")}]`);
  }
  console.log(`second group ended after ${Math.round(performance.now() - start)} ms, not 5 s`);
}

await run(main);
