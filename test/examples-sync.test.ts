/**
 * Runs the synchronization and queue examples as real programs on the Node that runs the tests,
 * and checks their exit code and output.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Run `examples/<file>` with the current Node; resolves with its stdout lines. */
function runExample(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [`examples/${file}`],
      { cwd: root, timeout: 15_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${file} failed: ${error.message}\n${stderr}`));
        else resolve(stdout.trimEnd().split("\n"));
      },
    );
  });
}

describe("examples (synchronization and queues)", () => {
  it("locked-counter.ts: increments are lost without the lock, and all 10 count with it", async () => {
    const lines = await runExample("locked-counter.ts");
    expect(lines).toEqual(["without the lock: counter = 1", "with the lock: counter = 10"]);
  });

  it("semaphore.ts: 10 tasks, at most 3 at once, started in FIFO order", async () => {
    const lines = await runExample("semaphore.ts");
    const running = lines.filter((l) => l.startsWith("task "));
    expect(running).toHaveLength(10);
    for (const line of running) {
      const active = Number(/\((\d) at once\)$/.exec(line)?.[1]);
      expect(active).toBeGreaterThanOrEqual(1);
      expect(active).toBeLessThanOrEqual(3);
    }
    expect(lines.slice(-2)).toEqual(["started in order: 0 1 2 3 4 5 6 7 8 9", "at most 3 at once"]);
  });

  it("producer-consumer.ts: join() waits for every job; the cancelled worker loses nothing", async () => {
    const lines = await runExample("producer-consumer.ts");
    expect(lines).toContainEqual(
      expect.stringMatching(/^worker-2 cancelled during job \d+: job \d+ goes back$/),
    );
    expect(lines.slice(-4)).toEqual([
      "all jobs done: 12 (1 2 3 4 5 6 7 8 9 10 11 12)",
      "each job exactly once: true",
      "workers: cancelled, cancelled, cancelled",
      "queue empty: true",
    ]);
  });
});
