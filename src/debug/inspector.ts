/**
 * The inspector: lets `aiots ps PID` and `aiots pstree PID` read the task table of a running
 * aiots process (asyncio's `python -m asyncio ps/pstree`).
 *
 * A process exposes it only when asked (`run(main, { inspect: true })` or `AIOTS_INSPECT=1`).
 * It listens on a Unix socket named after the pid in a directory that only the current OS user
 * can enter (mode 0700, owned by that user; refused otherwise), so only that user can read it.
 * The socket never keeps the process alive and is removed when the loop closes.
 *
 * @module
 */
import { chmodSync, lstatSync, mkdirSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import type { Loop } from "../core/loop.ts";
import { type TaskRow, taskTable } from "./call-graph.ts";

export type { TaskRow };

/** The directory holding the sockets of this user's processes. */
export function inspectorDir(): string {
  return process.env.AIOTS_INSPECT_DIR ?? join(tmpdir(), `aiots-${userInfo().uid}`);
}

/** The socket path of process `pid`. */
export function inspectorPath(pid: number): string {
  return join(inspectorDir(), `${pid}.sock`);
}

function privateDir(): string {
  const dir = inspectorDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== userInfo().uid || (stat.mode & 0o077) !== 0) {
    throw new Error(`aiots inspector: ${dir} must be a directory of yours with mode 0700`);
  }
  return dir;
}

/**
 * @internal Serve `loop`'s task table; resolves, once listening, with a function that stops.
 * Errors (an unusable directory, say) are reported through the loop's exception handler.
 */
export function startInspector(loop: Loop): Promise<() => void> {
  return new Promise((resolve) => {
    const report = (error: unknown): void => {
      loop.callExceptionHandler({ message: "aiots inspector could not start", exception: error });
      resolve(() => {});
    };
    let path: string;
    try {
      privateDir();
      path = inspectorPath(process.pid);
      rmSync(path, { force: true });
    } catch (error) {
      report(error);
      return;
    }
    const server: Server = createServer((socket) => {
      socket.on("error", () => socket.destroy());
      socket.end(`${JSON.stringify({ pid: process.pid, tasks: taskTable(loop) })}\n`);
    });
    server.once("error", report);
    server.listen(path, () => {
      server.off("error", report);
      chmodSync(path, 0o600);
      server.unref();
      resolve(() => {
        server.close();
        rmSync(path, { force: true });
      });
    });
  });
}

/** Read the task table of process `pid` (which must run with the inspector on). */
export function readTaskTable(
  pid: number,
  timeoutMs = 5000,
): Promise<{ pid: number; tasks: TaskRow[] }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(inspectorPath(pid));
    let data = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from process ${pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      data += chunk;
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(data) as { pid: number; tasks: TaskRow[] });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === "ENOENT" || error.code === "ECONNREFUSED"
          ? new Error(
              `process ${pid} exposes no aiots inspector: run it with AIOTS_INSPECT=1 or run(main, { inspect: true })`,
            )
          : error,
      );
    });
  });
}

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + " ".repeat(width - text.length);
}

/** `aiots ps`: one line per task. */
export function formatTaskTable(tasks: readonly TaskRow[]): string {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const header = ["task id", "task name", "function", "state", "awaiting", "awaited by"];
  const rows = tasks.map((t) => [
    String(t.id),
    t.name,
    t.fn,
    t.state,
    t.awaiting ?? "-",
    t.awaitedBy.map((id) => `${byId.get(id)?.name ?? "?"} (${id})`).join(", ") || "-",
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => (r[i] as string).length)),
  );
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => pad(c, widths[i] as number))
      .join("  ")
      .trimEnd();
  return `${[line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n")}\n`;
}

/**
 * `aiots pstree`: the await tree, each task under the task that awaits it (roots are awaited by
 * nobody). A cycle makes a tree impossible: it is reported instead, as asyncio does.
 */
export function formatTaskTree(tasks: readonly TaskRow[]): { text: string; cycles: number[][] } {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const children = new Map<number, number[]>();
  for (const t of tasks) {
    for (const parent of t.awaitedBy) {
      const list = children.get(parent) ?? [];
      list.push(t.id);
      children.set(parent, list);
    }
  }
  const cycles = findCycles(tasks, children);
  if (cycles.length > 0) {
    const lines = cycles.map((c) =>
      c.map((id) => `${byId.get(id)?.name ?? "?"} (${id})`).join(" → "),
    );
    return {
      text: `ERROR: await-graph contains cycles - cannot print a tree!\n${lines.join("\n")}\n`,
      cycles,
    };
  }
  const out: string[] = [];
  const walk = (id: number, prefix: string, last: boolean, root: boolean): void => {
    const t = byId.get(id) as TaskRow;
    const label = `${t.name} (${t.fn}, id ${t.id})${t.awaiting ? ` awaiting ${t.awaiting}` : ""}`;
    out.push(root ? `└── ${label}` : `${prefix}${last ? "└── " : "├── "}${label}`);
    const kids = children.get(id) ?? [];
    const childPrefix = root ? "    " : `${prefix}${last ? "    " : "│   "}`;
    for (const [i, kid] of kids.entries()) walk(kid, childPrefix, i === kids.length - 1, false);
  };
  for (const t of tasks) if (t.awaitedBy.length === 0) walk(t.id, "", true, true);
  return { text: `${out.join("\n")}\n`, cycles };
}

function findCycles(tasks: readonly TaskRow[], children: Map<number, number[]>): number[][] {
  const cycles: number[][] = [];
  const state = new Map<number, 1 | 2>(); // 1: on the current path, 2: done
  const path: number[] = [];
  const visit = (id: number): void => {
    state.set(id, 1);
    path.push(id);
    for (const kid of children.get(id) ?? []) {
      const s = state.get(kid);
      if (s === 1) cycles.push([...path.slice(path.indexOf(kid)), kid]);
      else if (s === undefined) visit(kid);
    }
    path.pop();
    state.set(id, 2);
  };
  for (const t of tasks) if (!state.has(t.id)) visit(t.id);
  return cycles;
}
