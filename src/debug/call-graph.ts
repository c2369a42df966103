/**
 * Call-graph introspection (asyncio 3.14's `capture_call_graph`, `format_call_graph`,
 * `print_call_graph`): what a task is doing, what it waits for, and who waits for it.
 *
 * Nothing is recorded while tasks run: "who awaits whom" is derived on demand from what each
 * task is suspended on (its waiter future, and what that future stands for: a task, the children
 * of a `gather`, a shielded future, the futures of a `wait`, the tasks of the `TaskGroup` the task
 * runs). The call stack of the current task is its real async stack; a suspended task's code
 * cannot be inspected in JavaScript, so its stack is its function, with the place where it was
 * created in debug mode.
 *
 * @module
 */
import { peekRunningLoop } from "../core/context.ts";
import { Future, PENDING, WaitFuture } from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import { currentTask, isOwnFrame, Task } from "../core/task.ts";
import { GatheringFuture } from "../gather.ts";
import { shieldedBy } from "../shield.ts";
import { activeGroups } from "../task-group.ts";
import { checkOptions } from "../validate.ts";
import { waitingFor } from "../wait.ts";

/** One entry of a call stack: a function and, when known, where it is. */
export interface CallGraphFrame {
  readonly name: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
}

/** A future or task, its call stack, what it waits for, and the graphs of those awaiting it. */
export interface FutureCallGraph {
  readonly future: Future<unknown>;
  readonly callStack: readonly CallGraphFrame[];
  /** What the task is suspended on, described (undefined for a running task or a future). */
  readonly awaiting: string | undefined;
  readonly awaitedBy: readonly FutureCallGraph[];
}

/** Options of `captureCallGraph` and friends (as asyncio's `depth` and `limit`). */
export interface CallGraphOptions {
  /** Frames to skip from the top of the current task's stack (default 1: the caller itself). */
  depth?: number | undefined;
  /** Keep at most this many entries per stack: > 0 the innermost, < 0 the outermost, 0 none. */
  limit?: number | undefined;
}

const FRAME = /^\s*at (?:(async) )?(?:(.*?) \()?((?:file:\/\/)?[^()\s]+?):(\d+):(\d+)\)?\s*$/;

function parseStack(stack: string): CallGraphFrame[] {
  const frames: CallGraphFrame[] = [];
  for (const line of stack.split("\n").slice(1)) {
    if (isOwnFrame(line)) continue;
    const m = FRAME.exec(line);
    if (m === null) continue;
    const name = `${m[1] === undefined ? "" : "async "}${m[2] ?? "<anonymous>"}`;
    frames.push({ name, file: m[3], line: Number(m[4]), column: Number(m[5]) });
  }
  return frames;
}

function locationFrame(name: string, at: string | undefined): CallGraphFrame {
  const m = at === undefined ? null : /^(.*):(\d+):(\d+)$/.exec(at);
  return m === null
    ? { name, file: undefined, line: undefined, column: undefined }
    : { name, file: m[1], line: Number(m[2]), column: Number(m[3]) };
}

function applyLimit(frames: CallGraphFrame[], limit: number | undefined): CallGraphFrame[] {
  if (limit === undefined) return frames;
  if (limit === 0) return [];
  return limit > 0 ? frames.slice(0, limit) : frames.slice(limit);
}

/** @internal What a task is suspended on, in words. */
export function describeWaiter(waiter: Future<unknown> | undefined): string | undefined {
  if (waiter === undefined) return undefined;
  if (waiter instanceof Task) return `Task '${waiter.getName()}'`;
  if (waiter instanceof WaitFuture) return `${waiter._owner.toString()}.${waiter._op}()`;
  if (waiter instanceof GatheringFuture) return `gather() of ${waiter._children.length}`;
  if (shieldedBy.has(waiter)) return `shield(${describeWaiter(shieldedBy.get(waiter))})`;
  const waited = waitingFor.get(waiter);
  if (waited !== undefined) return `wait() on ${waited.size}`;
  const when = (waiter as { _when?: number })._when;
  if (typeof when === "number") return `sleep until t=${when.toFixed(0)} ms`;
  return waiter.toString();
}

/** The futures `task` waits for right now (directly or through what its waiter stands for). */
function awaitedFutures(task: Task<unknown>): Set<Future<unknown>> {
  const result = new Set<Future<unknown>>();
  const waiter = task._waiter;
  if (waiter !== undefined) {
    result.add(waiter);
    if (waiter instanceof GatheringFuture) for (const c of waiter._children) result.add(c);
    const inner = shieldedBy.get(waiter);
    if (inner !== undefined) result.add(inner);
    const waited = waitingFor.get(waiter);
    if (waited !== undefined) for (const f of waited) result.add(f);
  }
  for (const group of activeGroups) {
    if (group._parentTask() === task) for (const child of group._children()) result.add(child);
  }
  return result;
}

function capture(
  future: Future<unknown>,
  options: CallGraphOptions,
  path: Set<Future<unknown>>,
): FutureCallGraph {
  let callStack: CallGraphFrame[] = [];
  let awaiting: string | undefined;
  if (future instanceof Task) {
    if (future === currentTask()) {
      const frames = parseStack(new Error().stack ?? "");
      callStack = frames.slice(Math.max(0, (options.depth ?? 1) - 1));
    } else {
      callStack = [locationFrame(`async ${future._fn.name || "<anonymous>"}`, undefined)];
      awaiting = describeWaiter(future._waiter);
    }
  }
  // A graph, rendered as a tree: a task awaited on two paths shows on both; only a cycle (on
  // the current path) stops the descent.
  const awaitedBy: FutureCallGraph[] = [];
  path.add(future);
  for (const task of future._loop._tasks) {
    if (path.has(task) || task._state !== PENDING) continue;
    if (awaitedFutures(task).has(future)) awaitedBy.push(capture(task, options, path));
  }
  path.delete(future);
  return { future, callStack: applyLimit(callStack, options.limit), awaiting, awaitedBy };
}

/**
 * The call graph of `future` (default: the current task): its call stack, what it waits for,
 * and recursively the graphs of the tasks that await it. Returns undefined with no argument
 * outside a task. Mirrors `asyncio.capture_call_graph`.
 */
export function captureCallGraph(
  future?: Future<unknown>,
  options: CallGraphOptions = {},
): FutureCallGraph | undefined {
  checkOptions("captureCallGraph()", options);
  const target = future ?? currentTask();
  if (target === undefined) return undefined;
  if (!(target instanceof Future)) {
    throw new TypeError(
      `captureCallGraph(): "future" must be a Task or a Future, got ${String(target)}`,
    );
  }
  // As in asyncio, depth 1 skips nothing but the capture itself (aiots' own frames are skipped).
  return capture(target, options, new Set());
}

function title(future: Future<unknown>): string {
  if (future instanceof Task) return `Task(name='${future.getName()}', id=${future._id})`;
  return `Future(${future.toString()})`;
}

function render(graph: FutureCallGraph, level: number, out: string[]): void {
  const pad = "    ".repeat(level);
  out.push(`${pad}* ${title(graph.future)}`);
  if (graph.awaiting !== undefined) out.push(`${pad}  + Awaiting: ${graph.awaiting}`);
  if (graph.callStack.length > 0) {
    out.push(`${pad}  + Call stack:`);
    for (const f of graph.callStack) {
      const where = f.file === undefined ? "" : `File '${f.file}', line ${f.line}, `;
      out.push(`${pad}  |   ${where}in ${f.name}()`);
    }
  }
  if (graph.awaitedBy.length > 0) {
    out.push(`${pad}  + Awaited by:`);
    for (const child of graph.awaitedBy) render(child, level + 1, out);
  }
}

/** `captureCallGraph` as text (asyncio's tree format); "" outside a task with no argument. */
export function formatCallGraph(future?: Future<unknown>, options: CallGraphOptions = {}): string {
  const graph = captureCallGraph(future, options);
  if (graph === undefined) return "";
  const out: string[] = [];
  render(graph, 0, out);
  return `${out.join("\n")}\n`;
}

/** Print `formatCallGraph` to `stream` (default stdout). */
export function printCallGraph(
  future?: Future<unknown>,
  options: CallGraphOptions & { stream?: { write(text: string): unknown } } = {},
): void {
  (options.stream ?? process.stdout).write(formatCallGraph(future, options));
}

/** A task as `aiots ps` shows it. */
export interface TaskRow {
  id: number;
  name: string;
  fn: string;
  state: string;
  awaiting: string | undefined;
  awaitedBy: number[];
}

/** @internal A snapshot of every pending task of `loop` (for `aiots ps`). */
export function taskTable(loop: Loop | undefined = peekRunningLoop()): TaskRow[] {
  if (loop === undefined) return [];
  const tasks = [...loop._tasks];
  return tasks.map((task) => ({
    id: task._id,
    name: task.getName(),
    fn: task._fn.name || "<anonymous>",
    state: task.cancelling() > 0 ? "cancelling" : "pending",
    awaiting: describeWaiter(task._waiter),
    awaitedBy: tasks.filter((t) => t !== task && awaitedFutures(t).has(task)).map((t) => t._id),
  }));
}
