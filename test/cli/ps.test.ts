import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = join(mkdtempSync(join(tmpdir(), "aiots-ps-test-")), "sockets");
const env = { ...process.env, AIOTS_INSPECT_DIR: dir };
const fixture = new URL("../fixtures/inspected.ts", import.meta.url).pathname;
const cli = new URL("../../src/cli/main.ts", import.meta.url).pathname;

afterAll(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

function aiots(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env, timeout: 20_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

function startFixture(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [fixture], { env, stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fixture did not start")), 10_000);
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      if (chunk.includes("ready")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  });
}

describe("aiots ps / pstree", () => {
  it("prints the task table and the await tree of a live process", async () => {
    const child = await startFixture();
    try {
      const pid = String(child.pid);
      const tree = await aiots(["pstree", pid]);
      expect(tree.code).toBe(0);
      const lines = tree.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^└── Task-\d+ \(main, id \d+\)/);
      expect(tree.stdout).toMatch(
        /^ {4}[├└]── worker \(worker, id \d+\) awaiting <Lock \[locked, waiters:1\]>\.acquire\(\)$/m,
      );
      expect(tree.stdout).toMatch(
        /^ {4}[├└]── napper \(napper, id \d+\) awaiting sleep until t=\d+ ms$/m,
      );
      const ps = await aiots(["ps", pid]);
      expect(ps.code).toBe(0);
      expect(ps.stdout.split("\n")[0]).toMatch(
        /^task id\s+task name\s+function\s+state\s+awaiting\s+awaited by$/,
      );
      expect(ps.stdout).toMatch(/worker\s+worker\s+pending\s+<Lock/);
    } finally {
      child.stdin?.write("stop\n");
    }
  });

  it("fails clearly for a process that exposes nothing, and on bad usage", async () => {
    const missing = await aiots(["pstree", "2000000000"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/exposes no aiots inspector: run it with AIOTS_INSPECT=1/);
    const usage = await aiots(["ps", "abc"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/takes one process id/);
  });
});
