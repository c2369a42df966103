/**
 * `asyncio.Queue`: a producer puts twelve jobs in a bounded queue, three workers take them,
 * `join()` waits until every job is marked done. One worker is cancelled halfway: the job it was
 * working on goes back to the queue, and a cancelled `get()` never takes a job, so nothing is
 * lost and nothing is done twice.
 *
 * Run: node examples/producer-consumer.ts
 */
import { createTask, gather, isCancelled, Queue, run, sleep } from "../src/index.ts";

interface Job {
  id: number;
  ms: number;
}

async function main(): Promise<void> {
  const queue = new Queue<Job>(4);
  const done: number[] = [];

  async function worker(name: string): Promise<void> {
    for (;;) {
      const job = await queue.get(); // cancelled while waiting here: no job is taken
      try {
        await sleep(job.ms);
        done.push(job.id);
      } catch (error) {
        if (isCancelled(error)) {
          // Unfinished work goes back. The cancellation has been delivered, so this task can
          // still await: it waits for room if the producer has filled the queue meanwhile.
          await queue.put(job);
          console.log(`${name} cancelled during job ${job.id}: job ${job.id} goes back`);
        }
        throw error;
      } finally {
        queue.taskDone(); // put back or finished, this get() is accounted for
      }
    }
  }

  const workers = ["worker-1", "worker-2", "worker-3"].map((name) =>
    createTask(() => worker(name), { name }),
  );

  for (let id = 1; id <= 12; id++) {
    await queue.put({ id, ms: 5 }); // waits while 4 jobs are queued
    if (id === 6) workers[1]?.cancel(); // worker-2 stops halfway
  }
  await queue.join(); // every job put has been marked done
  console.log(`all jobs done: ${done.length} (${[...done].sort((a, b) => a - b).join(" ")})`);
  console.log(`each job exactly once: ${new Set(done).size === 12 && done.length === 12}`);

  for (const w of workers) w.cancel(); // the workers loop forever: stop them
  const results = await gather(workers, { returnExceptions: true });
  console.log(
    `workers: ${results.map((r) => (isCancelled(r) ? "cancelled" : String(r))).join(", ")}`,
  );
  console.log(`queue empty: ${queue.empty()}`);
}

await run(main);
