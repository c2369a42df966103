/**
 * `asyncio.create_subprocess_exec` under a Semaphore: six child processes, at most three at a
 * time, their outputs collected with `communicate()`. A seventh, too slow, is cancelled by a
 * timeout, which kills it (aiots stops a child whose waiting task is cancelled).
 *
 * Run: node examples/subprocesses.ts
 */
import { gather, run, Semaphore, TimeoutError, timeout } from "../src/index.ts";
import { createSubprocessExec, PIPE } from "../src/subprocess/index.ts";

const limit = new Semaphore(3);
let running = 0;
let maxRunning = 0;

/** Run a small Node program that squares `n` after `ms` milliseconds. */
async function square(n: number, ms: number): Promise<string> {
  return limit.withPermit(async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    try {
      const code = `setTimeout(() => console.log(${n} * ${n}), ${ms})`;
      const proc = await createSubprocessExec(process.execPath, ["-e", code], { stdout: PIPE });
      const [stdout] = await proc.communicate();
      return `${n}^2 = ${stdout?.toString().trim()} (exit ${proc.returncode})`;
    } finally {
      running--;
    }
  });
}

async function main(): Promise<void> {
  const results = await gather([1, 2, 3, 4, 5, 6].map((n) => () => square(n, 50 + 10 * n)));
  for (const line of results) console.log(line);
  console.log(`at most ${maxRunning} at once`);

  const slow = await createSubprocessExec(process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
  try {
    await timeout(200, () => slow.wait());
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    console.log(`slow child timed out and was stopped: returncode ${slow.returncode}`);
  }
}

await run(main);
