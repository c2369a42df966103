/**
 * GATHER cases (asyncio-behaviour-cases.md): gather().
 * Source: CPython test_tasks.py (GatherTestsBase, FutureGatherTests, CoroutineGatherTests,
 * test_cancel_gather_*).
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  currentTask,
  type Future,
  GatheringFuture,
  gather,
  getRunningLoop,
  isCancelled,
  RuntimeError,
  sleep,
} from "../src/index.ts";
import { errorOf, expectArgError } from "./helpers/asyncio-cases.ts";
import { now, ticks, vrun, withHandlerLog } from "./helpers/run.ts";

function futures<T>(n: number): Future<T>[] {
  const loop = getRunningLoop();
  return Array.from({ length: n }, () => loop.createFuture<T>());
}

describe("GATHER: results and errors", () => {
  for (const variant of ["futures", "returnExceptions", "coroutine wrappers"] as const) {
    it(`GATHER-01 [CORE] (${variant}): results come in argument order once all are done; the callback runs once`, async () => {
      await vrun(async () => {
        const [a, b, c] = futures<number>(3) as [Future<number>, Future<number>, Future<number>];
        const wrap = (f: Future<number>) => async (): Promise<number> => await f;
        const g =
          variant === "futures"
            ? gather(a, b, c)
            : variant === "returnExceptions"
              ? gather([a, b, c], { returnExceptions: true })
              : gather(wrap(a), wrap(b), wrap(c));
        expect(g).toBeInstanceOf(GatheringFuture);
        let calls = 0;
        g.addDoneCallback(() => {
          calls++;
        });
        await ticks(1);
        b.setResult(1);
        a.setResult(2);
        await ticks(5);
        expect(g.done()).toBe(false);
        expect(calls).toBe(0);
        c.setResult(3);
        expect(await g).toEqual([2, 1, 3]);
        await ticks(1);
        expect(g.result()).toEqual([2, 1, 3]);
        expect(calls).toBe(1);
      });
    });
  }

  it("GATHER-01: gather() with no arguments is already done with []", async () => {
    await vrun(async () => {
      const g = gather();
      expect(g.done()).toBe(true);
      expect(g.result()).toEqual([]);
      expect(await gather([], { returnExceptions: true })).toEqual([]);
    });
  });

  it("GATHER-01 (duplicates): the same future twice is awaited once and its result repeated; a function is called per slot", async () => {
    await vrun(async () => {
      const [a] = futures<string>(1) as [Future<string>];
      let calls = 0;
      const fn = async (): Promise<number> => ++calls;
      const g = gather(a, fn, a, fn);
      a.setResult("x");
      const result = await g;
      expect(result).toEqual(["x", 1, "x", 2]);
      expect(calls).toBe(2);
    });
  });

  it("GATHER-02: the first error fails gather with that very object; later completions change nothing and are not reported", async () => {
    const exc = new Error("exc");
    const { log } = await withHandlerLog(async () => {
      const [a, b, c, d, e] = futures<number>(5) as Future<number>[] as [
        Future<number>,
        Future<number>,
        Future<number>,
        Future<number>,
        Future<number>,
      ];
      const g = gather(a, b, c, d, e);
      let calls = 0;
      g.addDoneCallback(() => {
        calls++;
      });
      a.setResult(1);
      b.setException(exc);
      await ticks(2);
      expect(g.done()).toBe(true);
      expect(calls).toBe(1);
      expect(g.cancelled()).toBe(false);
      expect(g.exception()).toBe(exc);
      c.setResult(3);
      d.cancel();
      e.setException(new Error("late"));
      await ticks(2);
      expect(g.exception()).toBe(exc);
      expect(calls).toBe(1);
    });
    expect(log).toEqual([]);
  });

  it("GATHER-03: with returnExceptions errors are returned in their slots once everything is done", async () => {
    await vrun(async () => {
      const [a, b, c, d] = futures<number>(4) as [
        Future<number>,
        Future<number>,
        Future<number>,
        Future<number>,
      ];
      const g = gather([a, b, c, d], { returnExceptions: true });
      const exc = new Error("exc");
      const exc2 = new RangeError("exc2");
      b.setResult(1);
      c.setException(exc);
      a.setResult(3);
      await ticks(2);
      expect(g.done()).toBe(false);
      d.setException(exc2);
      const res = await g;
      expect(res).toEqual([3, 1, exc, exc2]);
      expect(res[2]).toBe(exc);
      expect(res[3]).toBe(exc2);
    });
  });

  it("GATHER-04 [CORE]: a cancelled child fails gather with CancelledError but gather is not cancelled, nor is the awaiting task's count raised", async () => {
    await vrun(async () => {
      const [a, b, c] = futures<number>(3) as [Future<number>, Future<number>, Future<number>];
      const g = gather(a, b, c);
      const waiter = createTask(async () => {
        try {
          await g;
          return "no error";
        } catch (e) {
          return { cancelled: isCancelled(e), cancelling: currentTask()?.cancelling() };
        }
      });
      let calls = 0;
      g.addDoneCallback(() => {
        calls++;
      });
      await ticks(1);
      a.setResult(1);
      b.cancel("b went away");
      await ticks(2);
      expect(g.done()).toBe(true);
      expect(calls).toBe(1);
      expect(g.cancelled()).toBe(false);
      const error = g.exception();
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("b went away");
      expect(await waiter).toEqual({ cancelled: true, cancelling: 0 });
      c.setResult(3);
      await ticks(1);
      expect(g.exception()).toBeInstanceOf(CancelledError);
    });
  });

  it("GATHER-04: a task that lets gather's CancelledError propagate ends cancelled with cancelling() 0", async () => {
    await vrun(async () => {
      const [a, b] = futures<number>(2) as [Future<number>, Future<number>];
      const t = createTask(async () => await gather(a, b));
      await ticks(1);
      b.cancel();
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect(t.cancelling()).toBe(0);
    });
  });

  it("GATHER-05: with returnExceptions cancelled children give CancelledError instances in their slots", async () => {
    await vrun(async () => {
      const [a, b, c, d, e, f] = futures<number>(6) as [
        Future<number>,
        Future<number>,
        Future<number>,
        Future<number>,
        Future<number>,
        Future<number>,
      ];
      const g = gather([a, b, c, d, e, f], { returnExceptions: true });
      a.setResult(1);
      const zde = new RangeError("division by zero");
      b.setException(zde);
      c.cancel("c");
      await ticks(2);
      expect(g.done()).toBe(false);
      d.setResult(3);
      e.cancel();
      const rte = new RuntimeError("rte");
      f.setException(rte);
      const res = await g;
      expect(g.cancelled()).toBe(false);
      expect(res[2]).toBeInstanceOf(CancelledError);
      expect((res[2] as Error).message).toBe("c");
      expect(res[4]).toBeInstanceOf(CancelledError);
      expect((res[4] as Error).message).toBe("");
      expect([res[0], res[1], res[3], res[5]]).toEqual([1, zde, 3, rte]);
      expect(res[1]).toBe(zde);
      expect(res[5]).toBe(rte);
    });
  });
});

describe("GATHER: cancellation", () => {
  it("GATHER-06: cancelling the task awaiting gather cancels every child and their shared future", async () => {
    await vrun(async () => {
      const [waiter] = futures<void>(1) as [Future<void>];
      let proof = 0;
      const inner = async (): Promise<void> => {
        await waiter;
        proof += 1;
      };
      const child1 = createTask(inner);
      const child2 = createTask(inner);
      const holder: { g?: Future<unknown[]> } = {};
      const f = createTask(async () => {
        holder.g = gather(child1, child2);
        await holder.g;
        proof += 100;
      });
      await ticks(1);
      expect(f.cancel()).toBe(true);
      expect(await errorOf(f)).toBeInstanceOf(CancelledError);
      const g = holder.g as Future<unknown[]>;
      expect(g.cancel()).toBe(false);
      expect(waiter.cancelled()).toBe(true);
      expect(child1.cancelled()).toBe(true);
      expect(child2.cancelled()).toBe(true);
      await ticks(1);
      expect(proof).toBe(0);
    });
  });

  it("GATHER-07 [CORE]: the awaiting task is cancelled even with returnExceptions; gather fails with CancelledError, not cancelled", async () => {
    await vrun(async () => {
      const slow1 = createTask(() => sleep(10_000, 1));
      const slow2 = createTask(() => sleep(10_000, 2));
      const g = gather([slow1, slow2], { returnExceptions: true });
      const t = createTask(async () => await g);
      await ticks(1);
      expect(t.cancel()).toBe(true);
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect(slow1.cancelled()).toBe(true);
      expect(slow2.cancelled()).toBe(true);
      expect(g.done()).toBe(true);
      expect(g.cancelled()).toBe(false);
      expect(g.exception()).toBeInstanceOf(CancelledError);
      expect(now()).toBe(0);
    });
  });

  it("GATHER-07: cancelling the gather future itself cancels the children and returns true", async () => {
    await vrun(async () => {
      const slow1 = createTask(() => sleep(10_000, 1));
      const g = gather([slow1], { returnExceptions: true });
      await ticks(1);
      expect(g.cancel("stop")).toBe(true);
      const error = await errorOf(g);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("stop");
      expect(slow1.cancelled()).toBe(true);
      expect(g.cancelled()).toBe(false);
    });
  });

  for (const [label, args, expected] of [
    ["no argument", [], ""],
    ["null", [null], ""],
    ["'my message'", ["my message"], "my message"],
    ["5 (converted to a string)", [5], "5"],
  ] as const) {
    it(`GATHER-08: a task looping on gather(sleep) cancelled with ${label} raises CancelledError with that message and no cause`, async () => {
      await vrun(async () => {
        const test = async (): Promise<void> => {
          let time = 0;
          for (;;) {
            time += 50;
            await gather([() => sleep(50)], { returnExceptions: true });
            if (time > 1000) return;
          }
        };
        const qwe = createTask(test);
        await sleep(200);
        (qwe.cancel as (...x: unknown[]) => boolean)(...args);
        const error = await errorOf(qwe);
        expect(error).toBeInstanceOf(CancelledError);
        expect((error as Error).message).toBe(expected);
        expect((error as Error).cause).toBeUndefined();
        expect(qwe.cancelled()).toBe(true);
        expect(now()).toBe(200);
      });
    });
  }

  it("GATHER-09 (deviation: a task is done only microtasks after its body returns): cancel() after every child finished returns false and the result stands", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const [fut] = futures<number>(1) as [Future<number>];
      const holder: { cancelResult?: boolean | undefined; g?: Future<number[]> } = {};
      const child = async (): Promise<number> => {
        const v = await fut;
        // Runs before gather hears that this child is done (gather's callback is queued when
        // the child finishes, right after this return).
        loop.callSoon(() => {
          holder.cancelResult = holder.g?.cancel();
        });
        return v;
      };
      const g = gather(child);
      holder.g = g;
      await ticks(1);
      fut.setResult(42);
      expect(await g).toEqual([42]);
      expect(holder.cancelResult).toBe(false);
      expect(g.cancelled()).toBe(false);
      expect(g.result()).toEqual([42]);
    });
  });

  it("GATHER-11: the second child error after gather failed is not reported as never retrieved", async () => {
    const { result, log } = await withHandlerLog(async () => {
      const [a, b] = futures<null>(2) as [Future<null>, Future<null>];
      const inner = (f: Future<null>) => async (): Promise<void> => {
        await f;
        throw new RuntimeError("should not be ignored");
      };
      const f = createTask(async () => {
        await gather(inner(a), inner(b));
      });
      await ticks(1);
      a.setResult(null);
      await ticks(1);
      b.setResult(null);
      await ticks(3);
      return { error: f.exception() };
    });
    expect(result.error).toBeInstanceOf(RuntimeError);
    expect((result.error as Error).message).toBe("should not be ignored");
    expect(log).toEqual([]);
  });

  it("GATHER-12: a failing child fails gather at once; the other children keep running", async () => {
    await vrun(async () => {
      const slow = createTask(() => sleep(100, "slow done"));
      const failsImmediately = async (): Promise<never> => {
        throw new RangeError("bad value");
      };
      const error = await errorOf(gather(slow, failsImmediately));
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toBe("bad value");
      expect(now()).toBe(0);
      expect(slow.done()).toBe(false);
      expect(slow.cancelling()).toBe(0);
      expect(await slow).toBe("slow done");
      expect(now()).toBe(100);
    });
  });
});

describe("GATHER: arguments", () => {
  it("GATHER-ARGS: bad arguments give TypeError naming the argument and the value", async () => {
    expect.hasAssertions(); // the assertions are in expectArgError
    await vrun(async () => {
      expectArgError(() => gather(5 as never), TypeError, "gather()", '"aws"', "5 (number)");
      expectArgError(() => gather(null as never), TypeError, '"aws"', "null");
      expectArgError(() => gather([5] as never), TypeError, "aws[0]", "5 (number)");
      const [a] = futures<number>(1) as [Future<number>];
      expectArgError(
        () => gather([a], { returnExceptions: "yes" as never }),
        TypeError,
        '"returnExceptions"',
        '"yes" (string)',
      );
      expectArgError(() => gather([a], 5 as never), TypeError, '"options"', "5 (number)");
      a.setResult(1);
    });
  });

  it("GATHER-ARGS: gather outside a running loop is a RuntimeError", () => {
    expect(() => gather()).toThrow(RuntimeError);
  });

  it("GATHER-ARGS: promises are accepted and awaited in order", async () => {
    await vrun(async () => {
      expect(await gather(Promise.resolve(1), sleep(10, 2), Promise.resolve(3))).toEqual([1, 2, 3]);
      expect(now()).toBe(10);
      const rejected = Promise.reject(new RangeError("r"));
      const res = await gather([rejected, Promise.resolve(4)], { returnExceptions: true });
      expect(res[0]).toBeInstanceOf(RangeError);
      expect(res[1]).toBe(4);
    });
  });
});
