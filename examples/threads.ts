/**
 * `asyncio.to_thread` for CPU-bound work: count the primes below a limit, in chunks, first on the
 * main thread, then on worker threads with `toThread`. A heartbeat task ticks every 10 ms all
 * along: while the main thread counts, it is stuck; while the threads count, it keeps time.
 *
 * Run: node examples/threads.ts [limit] [chunks]      (default 3000000 16)
 *
 * Many small chunks rather than one per core: the higher ranges cost more, and small chunks
 * keep every worker busy to the end.
 */
import { availableParallelism } from "node:os";
import { createTask, gather, run, sleep, toThread } from "../src/index.ts";

const limit = Number(process.argv[2] ?? 3_000_000);
const chunks = Number(process.argv[3] ?? 16);

/** Primes in [from, to): self-contained, so that it can run on a thread. */
function countPrimes(from: number, to: number): number {
  let count = 0;
  for (let n = Math.max(from, 2); n < to; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}

const ranges = Array.from({ length: chunks }, (_, i) => [
  Math.floor((limit * i) / chunks),
  Math.floor((limit * (i + 1)) / chunks),
]) as [number, number][];

/** Run `work` with a 10 ms heartbeat beside it; returns its result, time and worst lateness. */
async function measure(work: () => Promise<number>) {
  let worst = 0;
  let beats = 0;
  let due = Number.POSITIVE_INFINITY;
  const heartbeat = createTask(async () => {
    for (;;) {
      due = performance.now() + 10;
      await sleep(10);
      worst = Math.max(worst, performance.now() - due);
      beats++;
    }
  });
  await sleep(0); // the heartbeat is ticking
  const t0 = performance.now();
  const primes = await work();
  const ms = performance.now() - t0;
  // A beat still waiting now is as late as it is.
  worst = Math.max(worst, performance.now() - due);
  heartbeat.cancel();
  return { primes, ms, worst, beats };
}

await run(async () => {
  console.log(`counting primes below ${limit} in ${chunks} chunks`);
  // Each chunk blocks the loop until it is done: the heartbeat cannot run meanwhile.
  const main = await measure(async () => {
    let total = 0;
    for (const [from, to] of ranges) total += countPrimes(from, to);
    return total;
  });
  report("main thread", main);

  await toThread(() => 0); // start a worker first: start-up is paid once, not per job
  const threads = await measure(async () => {
    const counts = await gather(
      ranges.map(
        ([from, to]) =>
          () =>
            toThread(countPrimes, from, to),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  });
  report(`threads (${Math.min(chunks, availableParallelism())} workers)`, threads);

  console.log(`speed-up: ${(main.ms / threads.ms).toFixed(2)}x`);
  console.log(
    `primes: ${threads.primes} (${main.primes === threads.primes ? "same" : "DIFFERENT"})`,
  );
});

function report(label: string, r: { ms: number; worst: number; beats: number }): void {
  console.log(
    `${label}: ${r.ms.toFixed(0)} ms, heartbeat: ${r.beats} beats, worst ${r.worst.toFixed(1)} ms late`,
  );
}
