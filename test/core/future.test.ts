/**
 * FUT cases (asyncio-behaviour-cases.md): Future.
 * Source: CPython test_futures.py (BaseFutureTests, BaseFutureDoneCallbackTests).
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  ensureFuture,
  Future,
  getRunningLoop,
  InvalidStateError,
  isFuture,
  RuntimeError,
} from "../../src/index.ts";
import { errorOf, expectArgError } from "../helpers/asyncio-cases.ts";
import { ticks, vrun, withHandlerLog } from "../helpers/run.ts";

describe("FUT: done callbacks", () => {
  it("FUT-03 [CORE]: callbacks run one iteration after setResult, in registration order, never inline", async () => {
    await vrun(async () => {
      const fut = getRunningLoop().createFuture<string>();
      const bag: number[] = [];
      const seen: unknown[] = [];
      fut.addDoneCallback((f) => {
        seen.push(f);
        bag.push(42);
      });
      fut.addDoneCallback(() => bag.push(17));
      fut.setResult("foo");
      expect(bag).toEqual([]); // not synchronously
      expect(fut.done()).toBe(true);
      expect(fut.result()).toBe("foo");
      await ticks(1);
      expect(bag).toEqual([42, 17]);
      expect(seen).toEqual([fut]); // the callback receives the future
      // Added after completion: scheduled, still not run inline.
      fut.addDoneCallback(() => bag.push(100));
      expect(bag).toEqual([42, 17]);
      await ticks(1);
      expect(bag).toEqual([42, 17, 100]);
      await ticks(2);
      expect(bag).toEqual([42, 17, 100]); // each exactly once
    });
  });

  it("FUT-03: the same holds for setException and cancel", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const failed = loop.createFuture<string>();
      const cancelled = loop.createFuture<string>();
      const bag: string[] = [];
      failed.addDoneCallback(() => bag.push("f1"));
      failed.addDoneCallback(() => bag.push("f2"));
      cancelled.addDoneCallback(() => bag.push("c1"));
      const error = new Error("x");
      failed.setException(error);
      expect(cancelled.cancel()).toBe(true);
      expect(bag).toEqual([]);
      await ticks(1);
      expect(bag).toEqual(["f1", "f2", "c1"]);
      expect(failed.exception()).toBe(error);
      expect(cancelled.cancelled()).toBe(true);
    });
  });

  it("FUT-04: removeDoneCallback removes every registration and returns how many", async () => {
    await vrun(async () => {
      const fut = getRunningLoop().createFuture<string>();
      const bag: number[] = [];
      const cb1 = (): void => {
        bag.push(1);
      };
      const cb2 = (): void => {
        bag.push(2);
      };
      const cb3 = (): void => {
        bag.push(3);
      };
      fut.addDoneCallback(cb1);
      fut.addDoneCallback(cb2);
      expect(fut.removeDoneCallback(cb2)).toBe(1);
      expect(fut.removeDoneCallback(cb3)).toBe(0);
      fut.addDoneCallback(cb2);
      for (let i = 0; i < 5; i++) fut.addDoneCallback(cb1);
      expect(fut.removeDoneCallback(cb1)).toBe(6);
      fut.setResult("foo");
      await ticks(1);
      expect(bag).toEqual([2]);
    });
  });

  it("FUT-04: removing the first, the first two, or the third of three callbacks", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const run = async (remove: number[]): Promise<number[]> => {
        const fut = loop.createFuture<string>();
        const bag: number[] = [];
        const cbs = [42, 17, 100].map((n) => (): void => {
          bag.push(n);
        });
        for (const cb of cbs) fut.addDoneCallback(cb);
        for (const i of remove) expect(fut.removeDoneCallback(cbs[i] as () => void)).toBe(1);
        fut.setResult("foo");
        await ticks(1);
        return bag;
      };
      expect(await run([0])).toEqual([17, 100]);
      expect(await run([0, 1])).toEqual([100]);
      expect(await run([2])).toEqual([42, 17]);
      expect(await run([1])).toEqual([42, 100]);
    });
  });

  it("FUT-ARGS: addDoneCallback rejects a non-function with a TypeError naming the argument", async () => {
    expect.hasAssertions(); // the assertions are in expectArgError
    await vrun(async () => {
      const fut = getRunningLoop().createFuture<string>();
      expectArgError(() => fut.addDoneCallback(5 as never), TypeError, '"callback"', "5 (number)");
    });
  });
});

describe("FUT: states", () => {
  it("FUT-STATE: result()/exception() on a pending, failed, cancelled and fulfilled future", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const pending = loop.createFuture<number>();
      expect(pending.done()).toBe(false);
      expect(pending.cancelled()).toBe(false);
      expect(() => pending.result()).toThrow(InvalidStateError);
      expect(() => pending.exception()).toThrow(InvalidStateError);

      const ok = loop.createFuture<number>();
      ok.setResult(7);
      expect(ok.result()).toBe(7);
      expect(ok.exception()).toBeUndefined();
      expect(() => ok.setResult(8)).toThrow(InvalidStateError);
      expect(() => ok.setException(new Error("late"))).toThrow(InvalidStateError);
      expect(ok.cancel()).toBe(false);
      expect(ok.result()).toBe(7);

      const bad = loop.createFuture<number>();
      const error = new Error("bad");
      bad.setException(error);
      expect(bad.exception()).toBe(error);
      expect(() => bad.result()).toThrow(error);
      expect(await errorOf(bad)).toBe(error);

      const gone = loop.createFuture<number>();
      expect(gone.cancel("why")).toBe(true);
      expect(gone.cancel()).toBe(false);
      expect(gone.cancelled()).toBe(true);
      expect(gone.done()).toBe(true);
      const e1 = (() => {
        try {
          gone.result();
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(e1).toBeInstanceOf(CancelledError);
      expect((e1 as Error).message).toBe("why");
      expect(() => gone.exception()).toThrow(CancelledError);
      const e2 = await errorOf(gone);
      expect(e2).toBeInstanceOf(CancelledError);
      expect((e2 as Error).message).toBe("why");
    });
  });

  it("FUT-STATE: setException with an error class instantiates it", async () => {
    await vrun(async () => {
      const fut = getRunningLoop().createFuture<number>();
      fut.setException(RangeError);
      expect(fut.exception()).toBeInstanceOf(RangeError);
    });
  });

  it("FUT-STATE: a task awaiting a future resumes in the next iteration, before callbacks queued after the completion", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const fut = loop.createFuture<string>();
      const order: string[] = [];
      loop.callSoon(() => {
        fut.setResult("v"); // queues the wake-up of the awaiting task
        order.push("set");
        loop.callSoon(() => order.push("queued-after-set"));
      });
      const value = await fut;
      order.push(`resumed:${value}`);
      expect(order).toEqual(["set", "resumed:v"]);
      await ticks(1);
      expect(order).toEqual(["set", "resumed:v", "queued-after-set"]);
    });
  });
});

describe("FUT: construction and wrapping", () => {
  it("FUT-06: new Future() outside a running loop is a RuntimeError", () => {
    expect(() => new Future()).toThrow(RuntimeError);
    expect(() => new Future()).toThrow(/no running event loop/);
  });

  it("FUT-06: inside a running loop a Future binds to it", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const fut = new Future<number>();
      expect(fut.getLoop()).toBe(loop);
      expect(loop.createFuture().getLoop()).toBe(loop);
      expect(isFuture(fut)).toBe(true);
      expect(isFuture(Promise.resolve(1))).toBe(false);
      loop.callSoon(() => fut.setResult(5));
      expect(await fut).toBe(5);
    });
  });

  it("FUT-06: a positional argument that is not a Loop is a TypeError", async () => {
    expect.hasAssertions(); // the assertions are in expectArgError
    await vrun(async () => {
      expectArgError(() => new Future(42 as never), TypeError, '"loop"', "42 (number)");
    });
  });

  it("FUT-07 (deviation: no wrap_future): ensureFuture returns a Future as is and wraps a promise", async () => {
    await vrun(async () => {
      const fut = getRunningLoop().createFuture<number>();
      expect(ensureFuture(fut)).toBe(fut);
      const wrapped = ensureFuture(Promise.resolve("worker result"));
      expect(isFuture(wrapped)).toBe(true);
      expect(await wrapped).toBe("worker result");
      expect(wrapped.result()).toBe("worker result");
    });
  });

  it("FUT-07 (deviation): cancelling the wrapper of an already-settled promise cancels only the wrapper", async () => {
    await vrun(async () => {
      const source = Promise.resolve(7);
      const wrapped = ensureFuture(source);
      expect(wrapped.cancel()).toBe(true);
      await ticks(2);
      expect(wrapped.cancelled()).toBe(true);
      expect(await source).toBe(7); // the result survives on the source
    });
  });

  it("FUT-ARGS: ensureFuture rejects what is not awaitable, naming the value", async () => {
    expect.hasAssertions(); // the assertions are in expectArgError
    await vrun(async () => {
      expectArgError(() => ensureFuture(5 as never), TypeError, '"aw"', "5 (number)");
    });
  });
});

describe("FUT: never-retrieved errors", () => {
  it("FUT-UNRETRIEVED: a failed future nobody looked at is reported once at the end of run", async () => {
    const error = new Error("lost");
    const { result, log } = await withHandlerLog(async () => {
      const fut = getRunningLoop().createFuture<number>();
      fut.setException(error);
      await ticks(1);
      return { fut }; // wrapped: returning the future itself would await it
    });
    expect(log).toHaveLength(1);
    expect(log[0]?.message).toBe("Future exception was never retrieved");
    expect(log[0]?.exception).toBe(error);
    expect(log[0]?.future).toBe(result.fut);
  });

  it("FUT-UNRETRIEVED: exception(), result(), await or cancel() after the failure each count as retrieval", async () => {
    const { log } = await withHandlerLog(async () => {
      const loop = getRunningLoop();
      const futs = [0, 1, 2, 3].map(() => loop.createFuture<number>());
      for (const f of futs) f.setException(new Error("seen"));
      futs[0]?.exception();
      expect(() => futs[1]?.result()).toThrow("seen");
      await errorOf(futs[2] as Future<number>);
      expect(futs[3]?.cancel()).toBe(false);
      await ticks(1);
    });
    expect(log).toEqual([]);
  });
});
