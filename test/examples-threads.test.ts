/**
 * Runs examples/threads.ts as a real program, with a small limit, and checks the shape of its
 * report (timings vary with the machine, so only their sanity is checked).
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

function runExample(file: string, args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [`examples/${file}`, ...args],
      { cwd: root, timeout: 15_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        if (error !== null) reject(new Error(`${file} failed: ${error.message}\n${stderr}`));
        else resolve(stdout.trimEnd().split("\n"));
      },
    );
  });
}

describe("examples (threads)", () => {
  it("threads.ts: counts primes on the main thread and on threads, with a heartbeat", async () => {
    const lines = await runExample("threads.ts", ["200000", "8"]);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toBe("counting primes below 200000 in 8 chunks");
    const main = /^main thread: (\d+) ms, heartbeat: (\d+) beats, worst ([\d.]+) ms late$/.exec(
      lines[1] as string,
    );
    const threads =
      /^threads \((\d+) workers\): (\d+) ms, heartbeat: (\d+) beats, worst ([\d.]+) ms late$/.exec(
        lines[2] as string,
      );
    expect(main).not.toBeNull();
    expect(threads).not.toBeNull();
    // The main thread blocks the loop for the whole count: its heartbeat is as late as that.
    expect(Number(main?.[3])).toBeGreaterThanOrEqual(Number(main?.[1]) * 0.5);
    expect(Number(threads?.[1])).toBeGreaterThanOrEqual(1);
    expect(lines[3]).toMatch(/^speed-up: \d+\.\d\dx$/);
    expect(lines[4]).toBe("primes: 17984 (same)");
  });
});
