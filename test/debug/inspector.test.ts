import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  formatTaskTable,
  formatTaskTree,
  inspectorPath,
  readTaskTable,
  type TaskRow,
} from "../../src/debug/inspector.ts";

const dir = mkdtempSync(join(tmpdir(), "aiots-inspect-test-"));
rmSync(dir, { recursive: true }); // the process must create it itself, with mode 0700
const savedDir = process.env.AIOTS_INSPECT_DIR;
process.env.AIOTS_INSPECT_DIR = dir; // both sides look here
const fixture = new URL("../fixtures/inspected.ts", import.meta.url).pathname;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (savedDir === undefined) delete process.env.AIOTS_INSPECT_DIR;
  else process.env.AIOTS_INSPECT_DIR = savedDir;
});

function startFixture(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, AIOTS_INSPECT_DIR: dir },
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fixture did not start")), 10_000);
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      if (chunk.includes("ready")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on("error", reject);
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

describe("inspector (aiots ps / pstree)", () => {
  it("reads the task table and tree of a live process, in a directory only its user can enter", async () => {
    const child = await startFixture();
    try {
      const pid = child.pid as number;
      const { tasks } = await readTaskTable(pid);
      const byName = new Map(tasks.map((t) => [t.name, t]));
      const main = byName.get("Task-1") ?? tasks.find((t) => t.fn === "main");
      const worker = byName.get("worker");
      const napper = byName.get("napper");
      expect(main?.fn).toBe("main");
      expect(worker?.awaiting).toMatch(/^<Lock \[locked, waiters:1\]>\.acquire\(\)$/);
      expect(napper?.awaiting).toMatch(/^sleep until t=\d+ ms$/);
      // The group's tasks are awaited by the task that runs the group.
      expect(worker?.awaitedBy).toEqual([main?.id]);
      expect(napper?.awaitedBy).toEqual([main?.id]);

      const table = formatTaskTable(tasks);
      expect(table.split("\n")[0]).toMatch(
        /^task id\s+task name\s+function\s+state\s+awaiting\s+awaited by$/,
      );
      expect(table).toMatch(/worker\s+worker\s+pending\s+<Lock/);

      const { text, cycles } = formatTaskTree(tasks);
      expect(cycles).toEqual([]);
      const lines = text.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^└── Task-1 \(main, id \d+\)/);
      expect(lines.slice(1).join("\n")).toMatch(
        /^ {4}[├└]── worker \(worker, id \d+\) awaiting <Lock/m,
      );
      expect(lines.slice(1).join("\n")).toMatch(
        /^ {4}[├└]── napper \(napper, id \d+\) awaiting sleep/m,
      );

      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(statSync(inspectorPath(pid)).mode & 0o777).toBe(0o600);
    } finally {
      child.stdin?.write("stop\n");
    }
    expect(await exited(child)).toBe(0);
  });

  it("says how to enable it when the process exposes nothing", async () => {
    await expect(readTaskTable(2_000_000_000)).rejects.toThrow(/AIOTS_INSPECT=1/);
  });

  it("reports cycles instead of a tree", () => {
    const row = (id: number, awaitedBy: number[]): TaskRow => ({
      id,
      name: `t${id}`,
      fn: "f",
      state: "pending",
      awaiting: undefined,
      awaitedBy,
    });
    const { text, cycles } = formatTaskTree([row(1, [2]), row(2, [1]), row(3, [])]);
    expect(cycles.length).toBe(1);
    expect(text).toMatch(/^ERROR: await-graph contains cycles - cannot print a tree!\n/);
  });
});
