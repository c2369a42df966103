import { describe, expect, it } from "vitest";
import {
  captureCallGraph,
  createTask,
  currentTask,
  Future,
  type FutureCallGraph,
  formatCallGraph,
  gather,
  Lock,
  printCallGraph,
  Queue,
  sleep,
  type Task,
  taskGroup,
} from "../../src/index.ts";
import { ticks, vrun } from "../helpers/run.ts";

function nameOf(future: Future<unknown>): string {
  return (future as Task<unknown>).getName();
}

/** Frame names without V8's "async " marker (source-map support may drop it). */
function names(graph: FutureCallGraph): string[] {
  return graph.callStack.map((f) => f.name.replace(/^async /, ""));
}

describe("captureCallGraph", () => {
  it("GRAPH-01: a task's stack, and every task awaiting it, each with its own stack", async () => {
    await vrun(async function main() {
      const me = (currentTask() as Task<unknown>).getName();
      let graph: FutureCallGraph | undefined;
      await taskGroup(async (tg) => {
        function c5(): void {
          graph = captureCallGraph();
        }
        async function c4(): Promise<void> {
          await sleep(1);
          c5();
        }
        async function c3(): Promise<void> {
          await c4();
        }
        const root = tg.createTask(
          async function c2() {
            await c3();
          },
          { name: "c2_root" },
        );
        tg.createTask(
          async function c1() {
            await root;
          },
          { name: "sub_main_1" },
        );
        tg.createTask(
          async function c1() {
            await root;
          },
          { name: "sub_main_2" },
        );
        await sleep(10);
      });
      const g = graph as FutureCallGraph;
      expect(g.future.toString()).toMatch(/name='c2_root'/);
      // The current task's real async stack, innermost first.
      expect(names(g).slice(0, 4)).toEqual(["c5", "c4", "c3", "c2"]);
      expect(g.callStack[0]?.file).toMatch(/call-graph\.test\.ts$/);
      expect(g.callStack[0]?.line).toBeGreaterThan(0);
      const awaiters = g.awaitedBy.map((a) => nameOf(a.future)).sort();
      expect(awaiters).toEqual([me, "sub_main_1", "sub_main_2"].sort());
      for (const sub of g.awaitedBy.filter((a) => /sub_main/.test(a.future.toString()))) {
        expect(sub.awaiting).toBe("Task 'c2_root'");
        expect(names(sub)).toEqual(["c1"]);
        // each sub task is itself awaited by the group's parent task
        expect(sub.awaitedBy.map((a) => nameOf(a.future))).toEqual([me]);
      }
    });
  });

  it("GRAPH-03: a plain future lists the tasks awaiting it; none outside a task", async () => {
    await vrun(async () => {
      const fut = new Future<void>();
      async function a2(): Promise<void> {
        await fut;
      }
      createTask(
        async function a1() {
          await a2();
        },
        { name: "task A" },
      );
      createTask(
        async function b1() {
          await fut;
        },
        { name: "task B" },
      );
      await ticks(3);
      const graph = captureCallGraph(fut) as FutureCallGraph;
      expect(graph.callStack).toEqual([]);
      const by = graph.awaitedBy.map((a) => [nameOf(a.future), a.awaiting]);
      expect(by.sort((a, b) => String(a[0]).localeCompare(String(b[0])))).toEqual([
        ["task A", "<Future pending>"],
        ["task B", "<Future pending>"],
      ]);
      fut.setResult();
    });
    expect(captureCallGraph()).toBeUndefined();
    expect(formatCallGraph()).toBe("");
  });

  it("names what each task awaits: a task, a lock, a queue, a sleep, a gather", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const queue = new Queue<number>();
      const sleeper = createTask(() => sleep(5000), { name: "sleeper" });
      const locker = createTask(() => lock.acquire(), { name: "locker" });
      const getter = createTask(() => queue.get(), { name: "getter" });
      const waiter = createTask(async () => sleeper, { name: "waiter" });
      const gatherer = createTask(() => gather(sleeper, locker), { name: "gatherer" });
      await ticks(3);
      const awaiting = (t: Future<unknown>): string | undefined => {
        const g = captureCallGraph(t) as FutureCallGraph;
        return g.awaiting;
      };
      expect(awaiting(sleeper)).toBe("sleep until t=5000 ms");
      expect(awaiting(locker)).toBe("<Lock [locked, waiters:1]>.acquire()");
      expect(awaiting(getter)).toMatch(/^<Queue.*>\.get\(\)$/);
      expect(awaiting(waiter)).toBe("Task 'sleeper'");
      expect(awaiting(gatherer)).toBe("gather() of 2");
      // gather's children are awaited by the gathering task
      const onSleeper = (captureCallGraph(sleeper) as FutureCallGraph).awaitedBy.map((a) =>
        nameOf(a.future),
      );
      expect(onSleeper.sort()).toEqual(["gatherer", "waiter"]);
      for (const t of [sleeper, locker, getter, waiter, gatherer]) t.cancel();
      lock.release();
    });
  });

  it("formats a tree and prints it; limit trims stacks", async () => {
    await vrun(async function outer() {
      const me = currentTask() as Task<unknown>;
      let text = "";
      let limited: FutureCallGraph | undefined;
      const child = createTask(
        async function inner() {
          text = formatCallGraph();
          limited = captureCallGraph(undefined, { limit: 0 });
        },
        { name: "child" },
      );
      await child;
      expect(text.split("\n")[0]).toBe(
        `* Task(name='child', id=${(child as unknown as { _id: number })._id})`,
      );
      expect(text).toContain("  + Call stack:\n  |   File '");
      expect(text).toMatch(/in (async )?inner\(\)/);
      expect(text).toContain(`  + Awaited by:\n    * Task(name='${me.getName()}'`);
      expect(limited?.callStack).toEqual([]);
      let printed = "";
      printCallGraph(undefined, { stream: { write: (s: string) => (printed += s) } });
      expect(printed.startsWith(`* Task(name='${me.getName()}'`)).toBe(true);
    });
  });

  it("rejects a non-future argument and bad options", async () => {
    await vrun(async () => {
      expect(() => captureCallGraph(5 as never)).toThrow(TypeError);
      expect(() => captureCallGraph(undefined, 5 as never)).toThrow(/options/);
    });
  });
});
