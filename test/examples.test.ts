/**
 * Runs the examples of the core runtime (and the flagship demo, small) as real programs on the
 * Node that runs the tests, and checks their exit code and key output lines. Other example files
 * have their own test files; this one lists its examples explicitly.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Outcome {
  code: number | null;
  lines: string[];
  stderr: string;
}

/** Run `examples/<file>` with the current Node; resolves with its exit code and stdout lines. */
function runExample(file: string, args: string[] = []): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`examples/${file}`, ...args],
      { cwd: root, timeout: 15_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, lines: stdout.trimEnd().split("\n"), stderr });
      },
    );
  });
}

/** Exit code 0; on failure the message shows what the example wrote to stderr. */
function expectSuccess({ code, stderr }: Outcome): void {
  expect(code === 0 ? "exit code 0" : `exit code ${code}, stderr:\n${stderr}`).toBe("exit code 0");
}

/** The number captured by `pattern` in the first line that matches it. */
function numberIn(lines: string[], pattern: RegExp): number {
  expect(lines).toContainEqual(expect.stringMatching(pattern));
  const line = lines.find((l) => pattern.test(l)) ?? "";
  return Number(pattern.exec(line)?.[1]);
}

describe("examples", () => {
  it("gather-fetch-data.ts: three fetches run concurrently, results in order", async () => {
    const outcome = await runExample("gather-fetch-data.ts");
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines.slice(0, 4)).toEqual([
      "Fetching 1...",
      "Fetching 2...",
      "Fetching 3...",
      "[ 'Data 1', 'Data 2', 'Data 3' ]",
    ]);
    // Concurrent: about 100 ms, where one after another would take 300.
    expect(numberIn(lines, /^3 fetches of 100 ms each took (\d+) ms$/)).toBeLessThan(250);
  });

  it("create-task.ts: tasks finish in order of their delays", async () => {
    const outcome = await runExample("create-task.ts");
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines.slice(0, -1)).toEqual([
      "Task A started",
      "Task B started",
      "Task C started",
      "Task B finished after 50 ms",
      "Task A finished after 100 ms",
      "Result from A",
      "Result from B",
      "Task C finished after 150 ms",
      "Result from C",
    ]);
    expect(numberIn(lines, /^all three took (\d+) ms$/)).toBeLessThan(280);
  });

  it("wait-for-timeout.ts: the timeout stops the slow task", async () => {
    const outcome = await runExample("wait-for-timeout.ts");
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines[0]).toBe("Slow task starting...");
    expect(lines[1]).toMatch(/^Slow task cancelled during step \d of 100$/);
    expect(lines[2]).toBe("Task timed out! (TimeoutError, cause: CancelledError)");
    expect(numberIn(lines, /^Execution time: (\d+) ms$/)).toBeLessThan(1000);
    const [, after, before] =
      /^Steps 100 ms later: (\d+) \(was (\d+)\)$/.exec(lines[4] ?? "") ?? [];
    expect(after).toBeDefined();
    expect(after).toBe(before);
    expect(lines).not.toContain("Slow task completed.");
  });

  it("future.ts: a future resolved by another coroutine wakes its waiter", async () => {
    const outcome = await runExample("future.ts");
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines.slice(0, 4)).toEqual([
      "Waiting for future result...",
      "Resolver sleeping for 200 ms...",
      "Resolver has set the future result.",
      "Future completed with result: Task completed!",
    ]);
    expect(numberIn(lines, /^Execution time: (\d+) ms$/)).toBeGreaterThanOrEqual(195);
  });

  it("nested-coroutines.ts: nested coroutines run in order, in the main task", async () => {
    const outcome = await runExample("nested-coroutines.ts");
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines.slice(0, 5)).toEqual([
      "Starting main coroutine",
      "Coroutine started",
      "Coroutine finished",
      "Hello, Alice! (in the main task: true)",
      "Hello, Bob! (in the main task: true)",
    ]);
    // One after another: 3 x 100 ms.
    expect(numberIn(lines, /^Finished main coroutine after (\d+) ms$/)).toBeGreaterThanOrEqual(295);
  });

  it("cancellation.ts: cancel() lands at the await; the signal stops a foreign timer", async () => {
    const outcome = await runExample("cancellation.ts");
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines.slice(0, -1)).toEqual([
      "worker: sleeping for 10 s",
      'worker: CancelledError at its await ("stop now")',
      "worker: finally block runs",
      "main: worker cancelled: true",
      "foreign: node:timers/promises setTimeout of 10 s",
      "foreign: timer aborted (AbortError)",
      "main: foreignTimer cancelled: true",
    ]);
    expect(numberIn(lines, /^main: done after (\d+) ms, not 20 s$/)).toBeLessThan(2000);
  });

  it("task-group.ts: a failing task cancels its sibling", async () => {
    const outcome = await runExample("task-group.ts");
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines.slice(0, 3)).toEqual([
      "results: Data 1, Data 2",
      "sibling: cancelled because another task failed",
      "ExceptionGroup: unhandled errors in a TaskGroup [connection reset]",
    ]);
    expect(lines).not.toContain("sibling: finished");
    expect(numberIn(lines, /^second group ended after (\d+) ms, not 5 s$/)).toBeLessThan(2000);
  });

  it("virtual-clock.ts: an hour of virtual time passes in no real time", async () => {
    const outcome = await runExample("virtual-clock.ts");
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines.slice(0, 2)).toEqual([
      "after sleep(3_600_000): loop time 3600000 ms",
      "timeout(5_000) expired at loop time 3605000 ms",
    ]);
    expect(numberIn(lines, /^real time: (\d+) ms$/)).toBeLessThan(1000);
  });

  it("flagship.ts: sequential vs concurrent requests against a loopback server", async () => {
    // A latency well above scheduling noise: the timed-out batch must reach the server, and must
    // not be answered, even on a loaded machine.
    const outcome = await runExample("flagship.ts", ["--count", "5", "--latency", "300"]);
    expectSuccess(outcome);
    const { lines } = outcome;
    expect(lines[0]).toBe(
      "aiots demo: 5 requests to a loopback server that answers each after 300 ms",
    );
    const sequential = numberIn(lines, /^sequential: 5 responses in (\d+\.\d\d) s$/);
    const concurrent = numberIn(lines, /^concurrent: 5 responses in (\d+\.\d\d) s$/);
    expect(sequential).toBeGreaterThanOrEqual(1.5);
    expect(concurrent).toBeLessThan(sequential);
    expect(numberIn(lines, /^speed-up: (\d+\.\d)x$/)).toBeGreaterThan(1);
    expect(lines).toContainEqual(expect.stringMatching(/^timeout\(150 ms\): TimeoutError after/));
    // Work really stopped: no request of the timed-out batch was answered.
    const abandoned = numberIn(
      lines,
      /^server: (\d+) of 5 requests abandoned by the client, 0 answered$/,
    );
    expect(abandoned).toBeGreaterThan(0);
  });

  it("flagship.ts: rejects a bad option with exit code 2 and the usage", async () => {
    const { code, stderr } = await runExample("flagship.ts", ["--count", "0"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--count must be an integer from 1 to 1000");
    expect(stderr).toContain("usage: node examples/flagship.ts");
  });
});

describe("README.md", () => {
  // A README block that starts with "// examples/<file>" is that example, importing "aiots".
  it("shows complete programs exactly as the example files that this test runs", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const blocks = [...readme.matchAll(/```ts\n\/\/ (examples\/[\w-]+\.ts)[^\n]*\n([\s\S]*?)```/g)];
    expect(blocks.length).toBeGreaterThan(0);
    for (const [, file = "", code = ""] of blocks) {
      const source = readFileSync(new URL(`../${file}`, import.meta.url), "utf8")
        .replace(/^\/\*\*[\s\S]*?\*\/\n/, "") // the file's header comment
        .replaceAll('"../src/index.ts"', '"aiots"')
        .replaceAll('"../src/testing/index.ts"', '"aiots/testing"');
      expect({ file, code }).toEqual({ file, code: source });
    }
  });
});
