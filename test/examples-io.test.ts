/**
 * Runs the streams and subprocess examples as real programs on the Node that runs the tests, and
 * checks their output.
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
        else if (stderr !== "") reject(new Error(`${file} wrote to stderr:\n${stderr}`));
        else resolve(stdout.trimEnd().split("\n"));
      },
    );
  });
}

describe("examples (streams and subprocesses)", () => {
  it("echo-server.ts: three round trips, then the client and the server close cleanly", async () => {
    expect(await runExample("echo-server.ts")).toEqual([
      "server: listening on 127.0.0.1",
      "server: connection from 127.0.0.1",
      'client: sent "hello", got "hello"',
      'client: sent "asyncio", got "asyncio"',
      'client: sent "for Node.js", got "for Node.js"',
      "server: client done, closing",
      "client: server closed: true",
      "server: shut down",
    ]);
  });

  it("subprocesses.ts: six children under a semaphore of 3, outputs in order; the slow one is stopped", async () => {
    expect(await runExample("subprocesses.ts")).toEqual([
      "1^2 = 1 (exit 0)",
      "2^2 = 4 (exit 0)",
      "3^2 = 9 (exit 0)",
      "4^2 = 16 (exit 0)",
      "5^2 = 25 (exit 0)",
      "6^2 = 36 (exit 0)",
      "at most 3 at once",
      "slow child timed out and was stopped: returncode -15",
    ]);
  });
});
