/**
 * SHIELD cases (asyncio-behaviour-cases.md): shield().
 * Sources: CPython test_tasks.py (test_shield_*, test_gather_shield), test_waitfor.py
 * (WaitForShieldTests).
 */
import { describe, expect, it } from "vitest";
import {
  allTasks,
  CancelledError,
  createTask,
  gather,
  getRunningLoop,
  RuntimeError,
  shield,
  sleep,
  Task,
  TimeoutError,
  waitFor,
} from "../src/index.ts";
import { errorOf, expectArgError } from "./helpers/asyncio-cases.ts";
import { now, ticks, vrun, withHandlerLog } from "./helpers/run.ts";

describe("SHIELD: cancellation", () => {
  it("SHIELD-02: cancelling the inner future cancels the outer", async () => {
    await vrun(async () => {
      const inner = getRunningLoop().createFuture<number>();
      const outer = shield(inner);
      expect(outer).not.toBe(inner);
      await ticks(1);
      expect(inner.cancel()).toBe(true);
      await ticks(1);
      expect(outer.cancelled()).toBe(true);
    });
  });

  it("SHIELD-02: cancelling the outer cancels only the outer; the inner runs on and a late result does not touch the outer", async () => {
    await vrun(async () => {
      const inner = getRunningLoop().createFuture<number>();
      const outer = shield(inner);
      await ticks(1);
      expect(outer.cancel()).toBe(true);
      await ticks(1);
      expect(outer.cancelled()).toBe(true);
      expect(inner.cancelled()).toBe(false);
      expect(inner.done()).toBe(false);
      inner.setResult(1);
      await ticks(2);
      expect(outer.cancelled()).toBe(true);
      expect(inner.result()).toBe(1);
    });
  });

  it("SHIELD-02: the outer copies the inner's result or error", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const ok = loop.createFuture<number>();
      const bad = loop.createFuture<number>();
      const okOuter = shield(ok);
      const badOuter = shield(bad);
      const error = new RangeError("inner failed");
      ok.setResult(5);
      bad.setException(error);
      expect(await okOuter).toBe(5);
      expect(await errorOf(badOuter)).toBe(error);
    });
  });

  it("SHIELD-02 (gather inside): cancelling shield(gather(...)) leaves gather and its children running", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const child1 = loop.createFuture<number>();
      const child2 = loop.createFuture<number>();
      const parent = gather(child1, child2);
      const outer = shield(parent);
      await ticks(1);
      expect(outer.cancel()).toBe(true);
      await ticks(1);
      expect(outer.cancelled()).toBe(true);
      expect(parent.done()).toBe(false);
      child1.setResult(1);
      child2.setResult(2);
      await ticks(2);
      expect(parent.result()).toEqual([1, 2]);
    });
  });

  it("SHIELD-02 (gather outside): cancelling gather(shield(a), shield(b)) cancels only the shields", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const child1 = loop.createFuture<number>();
      const child2 = loop.createFuture<number>();
      const inner1 = shield(child1);
      const inner2 = shield(child2);
      const parent = gather(inner1, inner2);
      await ticks(1);
      expect(parent.cancel()).toBe(true);
      await ticks(1);
      expect(parent.exception()).toBeInstanceOf(CancelledError);
      expect(inner1.cancelled()).toBe(true);
      expect(inner2.cancelled()).toBe(true);
      expect(child1.cancelled()).toBe(false);
      expect(child2.cancelled()).toBe(false);
      child1.setResult(1);
      child2.setResult(2);
      await ticks(1);
      expect([child1.result(), child2.result()]).toEqual([1, 2]);
    });
  });

  it("SHIELD-04 [CORE]: the awaiting task is cancelled at once; the shielded work finishes; the task's continuation never runs", async () => {
    await vrun(async () => {
      let proof = 0;
      const waiter = getRunningLoop().createFuture<null>();
      const inner = async (): Promise<void> => {
        await waiter;
        proof += 1;
      };
      const f = createTask(async () => {
        await shield(inner);
        proof += 100;
      });
      await ticks(1);
      expect(f.cancel()).toBe(true);
      expect(await errorOf(f)).toBeInstanceOf(CancelledError);
      expect(f.cancelled()).toBe(true);
      expect(proof).toBe(0);
      waiter.setResult(null);
      await ticks(1);
      expect(proof).toBe(1);
      await ticks(2);
      expect(proof).toBe(1);
    });
  });
});

describe("SHIELD: late errors of the inner", () => {
  it("SHIELD-03: after the outer was cancelled, a late result of the inner is not reported", async () => {
    const { log } = await withHandlerLog(async () => {
      const inner = getRunningLoop().createFuture<number>();
      const outer = shield(inner);
      await ticks(1);
      outer.cancel();
      await ticks(1);
      expect(outer.cancelled()).toBe(true);
      inner.setResult(1);
      await ticks(2);
    });
    expect(log).toEqual([]);
  });

  it("SHIELD-03: after the outer was cancelled, a late error of the inner is reported exactly once", async () => {
    const error = new Error("foo");
    const { result, log } = await withHandlerLog(async () => {
      const inner = getRunningLoop().createFuture<number>();
      const outer = shield(inner);
      await ticks(1);
      outer.cancel();
      await ticks(1);
      expect(outer.cancelled()).toBe(true);
      inner.setException(error);
      await ticks(2);
      return { inner };
    });
    expect(log).toHaveLength(1);
    expect(log[0]?.exception).toBe(error);
    expect(log[0]?.future).toBe(result.inner);
  });

  it("SHIELD-03: shielded twice, both shields cancelled: the late error is reported exactly once", async () => {
    const error = new Error("foo");
    const { log } = await withHandlerLog(async () => {
      const inner = getRunningLoop().createFuture<number>();
      const outer1 = shield(inner);
      await ticks(1);
      outer1.cancel();
      await ticks(1);
      const outer2 = shield(inner);
      await ticks(1);
      outer2.cancel();
      await ticks(1);
      expect([outer1.cancelled(), outer2.cancelled()]).toEqual([true, true]);
      inner.setException(error);
      await ticks(2);
    });
    expect(log).toHaveLength(1);
    expect(log[0]?.exception).toBe(error);
  });

  it("SHIELD-03 (port choice, cpython#156321): a late error the caller retrieves from the inner is not reported", async () => {
    const error = new Error("foo");
    const { log } = await withHandlerLog(async () => {
      const inner = createTask(async () => {
        await sleep(10);
        throw error;
      });
      const t = createTask(async () => await shield(inner));
      await ticks(1);
      t.cancel();
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(await errorOf(inner)).toBe(error);
    });
    expect(log).toEqual([]);
  });
});

describe("SHIELD: creation", () => {
  it("SHIELD-06: shield() outside a running loop is a RuntimeError", () => {
    expect(() => shield(async () => 1)).toThrow(RuntimeError);
  });

  it("SHIELD-06: inside a loop, shield(fn) starts fn as a task on that loop", async () => {
    await vrun(async () => {
      const before = allTasks();
      const outer = shield(async () => {
        await sleep(10);
        return 5;
      });
      const started = [...allTasks()].filter((t) => !before.has(t));
      expect(started).toHaveLength(1);
      expect(started[0]).toBeInstanceOf(Task);
      expect(started[0]?.getLoop()).toBe(getRunningLoop());
      expect(await outer).toBe(5);
      expect(started[0]?.result()).toBe(5);
    });
  });

  it("SHIELD-06: an argument already done is returned as it is", async () => {
    await vrun(async () => {
      const done = getRunningLoop().createFuture<number>();
      done.setResult(3);
      expect(shield(done)).toBe(done);
    });
  });

  it("SHIELD-ARGS: shield() of something not awaitable is a TypeError naming the argument and the value", async () => {
    expect.hasAssertions(); // the assertions are in expectArgError
    await vrun(async () => {
      expectArgError(() => shield(5 as never), TypeError, "shield()", '"aw"', "5 (number)");
      expectArgError(() => shield(null as never), TypeError, "shield()", '"aw"', "null");
    });
  });
});

describe("SHIELD: with waitFor", () => {
  it("SHIELD-07: waitFor(shield(task), 0) times out at once; the shield is cancelled, the task completes later", async () => {
    await vrun(async () => {
      const task = createTask(async () => {
        await sleep(10);
        return "done";
      });
      const shielded = shield(task);
      const error = await errorOf(waitFor(shielded, 0));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(now()).toBe(0);
      expect(task.done()).toBe(false);
      expect(task.cancelled()).toBe(false);
      expect(shielded.cancelled()).toBe(true);
      await sleep(100);
      expect(task.done()).toBe(true);
      expect(task.result()).toBe("done");
    });
  });

  it("SHIELD-07: waitFor(shield(task), null) waits for the task", async () => {
    await vrun(async () => {
      const task = createTask(async () => {
        await sleep(100);
        return "done";
      });
      expect(await waitFor(shield(task), null)).toBe("done");
      expect(task.done()).toBe(true);
      expect(task.result()).toBe("done");
      expect(now()).toBe(100);
    });
  });

  it("SHIELD-07: waitFor(shield(task), 10) on a 100 ms task times out at 10 ms; the task still gives 'done'", async () => {
    await vrun(async () => {
      const task = createTask(async () => {
        await sleep(100);
        return "done";
      });
      const error = await errorOf(waitFor(shield(task), 10));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(now()).toBe(10);
      expect(task.done()).toBe(false);
      expect(task.cancelled()).toBe(false);
      expect(await task).toBe("done");
      expect(now()).toBe(100);
    });
  });
});
