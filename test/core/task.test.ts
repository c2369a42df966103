/**
 * TASK and EAGER cases (asyncio-behaviour-cases.md): Task lifecycle, cancellation, uncancel,
 * context; eager task execution.
 * Sources: CPython test_tasks.py (BaseTaskTests, BaseCurrentLoopTests),
 * test_eager_task_factory.py.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import {
  allTasks,
  CancelledError,
  createTask,
  currentTask,
  gather,
  getRunningLoop,
  isCancelled,
  Loop,
  RuntimeError,
  sleep,
  Task,
  type TaskGroup,
  type TaskOptions,
  TimeoutError,
  taskGroup,
  wait,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { errorOf, expectArgError } from "../helpers/asyncio-cases.ts";
import { now, ticks, vrun, withHandlerLog } from "../helpers/run.ts";

class Fatal extends Error {
  override name = "Fatal";
}

describe("TASK: basics", () => {
  it("TASK-01: a task awaiting two coroutines returns their sum", async () => {
    const result = await vrun(async () => {
      const inner1 = async (): Promise<number> => 42;
      const inner2 = async (): Promise<number> => 1000;
      const outer = createTask(async () => {
        const a = await inner1();
        const b = await inner2();
        return a + b;
      });
      return await outer;
    });
    expect(result).toBe(1042);
  });

  it("TASK-01: names: given name, default Task-<n> from a counter, setName", async () => {
    await vrun(async () => {
      const named = createTask(async () => {}, { name: "No-op" });
      expect(named.getName()).toBe("No-op");
      const a = createTask(async () => {});
      const b = createTask(async () => {});
      const na = /^Task-(\d+)$/.exec(a.getName());
      const nb = /^Task-(\d+)$/.exec(b.getName());
      expect(na).not.toBeNull();
      expect(nb).not.toBeNull();
      expect(Number(nb?.[1])).toBe(Number(na?.[1]) + 1);
      b.setName("renamed");
      expect(b.getName()).toBe("renamed");
      await gather(named, a, b);
    });
  });

  it("TASK-01: createTask of a non-function is a TypeError naming the argument and the value", async () => {
    expect.hasAssertions(); // the assertions are in expectArgError
    await vrun(async () => {
      expectArgError(() => createTask(123 as never), TypeError, "createTask()", '"fn"', "123");
      expectArgError(() => createTask(null as never), TypeError, '"fn"', "null");
      expectArgError(
        () => createTask(async () => {}, { name: 5 as never }),
        TypeError,
        '"name"',
        "5 (number)",
      );
      expectArgError(() => createTask(async () => {}, 5 as never), TypeError, '"options"', "5");
    });
  });

  it("TASK-01: a function that does not return a promise fails the task with a TypeError", async () => {
    await vrun(async () => {
      const t = createTask((() => 123) as never);
      const error = await errorOf(t);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toContain("123");
      expect(t.cancelled()).toBe(false);
    });
  });

  it("TASK-01: createTask outside a running loop is a RuntimeError", () => {
    expect(() => createTask(async () => {})).toThrow(RuntimeError);
    expect(() => createTask(async () => {})).toThrow(/no running event loop/);
  });

  it("TASK-02: setResult/setException on a task are RuntimeErrors and the task still returns its value", async () => {
    await vrun(async () => {
      const t = createTask(async () => {
        await sleep(0);
        return "ko";
      });
      expect(() => t.setResult("ok" as never)).toThrow(RuntimeError);
      expect(() => t.setResult("ok" as never)).toThrow(/setResult/);
      expect(() => t.setException(new Error("x"))).toThrow(RuntimeError);
      expect(() => t.setException(new Error("x"))).toThrow(/setException/);
      expect(await t).toBe("ko");
    });
  });

  it("TASK-02: a task awaiting itself fails with RuntimeError('Task cannot await on itself')", async () => {
    await vrun(async () => {
      const holder: { t?: Task<void> } = {};
      const t = createTask(async () => {
        await sleep(0);
        await (holder.t as Task<void>);
      });
      holder.t = t;
      const error = await errorOf(t);
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toBe("Task cannot await on itself");
      expect(t.cancelled()).toBe(false);
    });
  });

  it("TASK-02: awaiting a future of another loop fails with RuntimeError (different loop)", async () => {
    await vrun(async () => {
      const other = new Loop({ clock: new VirtualClock() });
      const foreign = other.createFuture<number>();
      const t = createTask(async () => {
        await foreign;
      });
      await ticks(3);
      const doneInTime = t.done();
      if (!doneInTime) {
        // Only if the library misses the check: t is stuck on a future whose callbacks the other
        // (never running) loop would run, and run() could never finish. Let that loop deliver a
        // cancellation so that the test fails instead of hanging.
        t.cancel();
        (other as unknown as { _start(): void })._start();
        await errorOf(t);
      }
      expect(doneInTime).toBe(true);
      const error = t.exception();
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toMatch(/different loop/);
    });
  });
});

describe("TASK: cancellation", () => {
  it("TASK-03 [CORE]: cancelling a task blocked in sleep ends it cancelled", async () => {
    await vrun(async () => {
      const events: string[] = [];
      const t = createTask(async () => {
        events.push("start");
        try {
          await sleep(10_000);
          events.push("woke");
        } finally {
          events.push("finally");
        }
      });
      // Queued behind the task's first step: the task is blocked in sleep when it runs.
      getRunningLoop().callSoon(() => t.cancel());
      const error = await errorOf(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect(t.done()).toBe(true);
      expect(t.cancelled()).toBe(true);
      expect(t.cancel()).toBe(false);
      expect(events).toEqual(["start", "finally"]);
      expect(now()).toBe(0);
    });
  });

  it("TASK-04: cancel() counts: cancelling() 0, 1, 2, each cancel() returns true, await raises", async () => {
    await vrun(async () => {
      const t = createTask(async () => {
        await sleep(10_000);
      });
      expect(t.cancelling()).toBe(0);
      expect(t.cancel()).toBe(true);
      expect(t.cancelling()).toBe(1);
      expect(t.cancel()).toBe(true);
      expect(t.cancelling()).toBe(2);
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
    });
  });

  it("TASK-05 [CORE]: uncancel() after handling a cancellation lets the task run on; a second cancel ends it", async () => {
    await vrun(async () => {
      const events: string[] = [];
      const t = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (e) {
          if (!isCancelled(e)) throw e;
          events.push("handled");
          currentTask()?.uncancel();
          await sleep(10_000);
          events.push("second sleep ended");
        }
      });
      await ticks(1);
      expect(t.cancel()).toBe(true);
      expect(t.cancelling()).toBe(1);
      expect(t.cancelled()).toBe(false);
      await ticks(2);
      expect(events).toEqual(["handled"]);
      expect(t.cancelling()).toBe(0);
      expect(t.done()).toBe(false);
      expect(t.cancel()).toBe(true);
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      t.uncancel();
      expect(t.cancelled()).toBe(true);
      expect(events).toEqual(["handled"]);
      expect(now()).toBe(0);
    });
  });

  it("TASK-06 [CORE]: cancel() then uncancel() before the task resumes rescinds the cancellation", async () => {
    await vrun(async () => {
      const f = getRunningLoop().createFuture<null>();
      const t = createTask(async () => {
        await f;
        return 42;
      });
      await ticks(1); // t is blocked on f
      f.setResult(null); // t is runnable
      expect(t.cancel()).toBe(true);
      expect(t.cancelling()).toBe(1);
      expect(t.uncancel()).toBe(0);
      expect(t.cancelling()).toBe(0);
      expect(await t).toBe(42);
      expect(t.cancelled()).toBe(false);
    });
  });

  it("TASK-07: a hand-made timeout built on cancel/uncancel converts only its own cancellation", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const makeRequestWithTimeout = async (
        sleepFor: number,
        timeoutMs: number,
      ): Promise<{ timedOut: boolean; finished: boolean; after: boolean }> => {
        const task = currentTask() as Task<unknown>;
        let timedOut = false;
        let finished = false;
        let after = false;
        const handle = loop.callLater(timeoutMs, () => {
          timedOut = true;
          task.cancel();
        });
        try {
          try {
            await sleep(sleepFor);
            finished = true;
          } catch (e) {
            if (timedOut && task.uncancel() === 0 && isCancelled(e)) {
              throw new TimeoutError("timed out", { cause: e });
            }
            throw e;
          } finally {
            handle.cancel();
          }
        } catch (e) {
          if (!(e instanceof TimeoutError)) throw e;
        }
        after = true;
        return { timedOut, finished, after };
      };
      const t1 = createTask(() => makeRequestWithTimeout(10_000, 100));
      expect(await t1).toEqual({ timedOut: true, finished: false, after: true });
      expect(t1.cancelling()).toBe(0);
      expect(now()).toBe(100);
      const t2 = createTask(() => makeRequestWithTimeout(0, 10_000));
      expect(await t2).toEqual({ timedOut: false, finished: true, after: true });
      expect(t2.cancelling()).toBe(0);
      expect(now()).toBe(100);
    });
  });

  for (const [label, args, expected] of [
    ["no argument", [], ""],
    ["null", [null], ""],
    ["'my message'", ["my message"], "my message"],
    ["5 (converted to a string)", [5], "5"],
  ] as const) {
    for (const when of ["while sleeping", "before it ever ran"] as const) {
      it(`TASK-08: cancel(${label}) ${when}: result() and exception() raise CancelledError with that message, no cause`, async () => {
        await vrun(async () => {
          const a = createTask(async () => {
            await sleep(10_000);
          });
          if (when === "while sleeping") await ticks(1);
          (a.cancel as (...x: unknown[]) => boolean)(...args);
          const { done } = await wait([a]);
          expect(done.has(a)).toBe(true);
          let error: unknown;
          try {
            a.result();
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(CancelledError);
          expect((error as Error).message).toBe(expected);
          expect((error as Error).cause).toBeUndefined();
          let error2: unknown;
          try {
            a.exception();
          } catch (e) {
            error2 = e;
          }
          expect(error2).toBeInstanceOf(CancelledError);
          expect((error2 as Error).message).toBe(expected);
        });
      });
    }
  }

  it("TASK-08: an error raised from a caught CancelledError has it as its cause, with the message", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const outer = createTask(async () => {
        const inner = createTask(async () => {
          await sleep(10_000);
        });
        await sleep(0);
        loop.callSoon(() => inner.cancel("msg"));
        try {
          await inner;
        } catch (e) {
          if (isCancelled(e)) throw new RangeError("cancelled", { cause: e });
          throw e;
        }
      });
      const error = await errorOf(outer);
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toBe("cancelled");
      const cause = (error as Error).cause;
      expect(cause).toBeInstanceOf(CancelledError);
      expect((cause as Error).message).toBe("msg");
      expect((cause as Error).cause).toBeUndefined();
    });
  });

  it("TASK-09 [CORE]: a task cancelled before its first step never runs its body, not even finally", async () => {
    await vrun(async () => {
      const recorded: string[] = [];
      const t = createTask(async () => {
        recorded.push("started");
        try {
          await sleep(10);
        } finally {
          recorded.push("finally");
        }
      });
      expect(t.cancel("early")).toBe(true);
      const error = await errorOf(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("early");
      expect(t.cancelled()).toBe(true);
      await ticks(2);
      expect(recorded).toEqual([]);
    });
  });

  for (const both of [false, true]) {
    it(`TASK-11: cancelling the inner future${both ? " together with the task" : ""} ends the task cancelled`, async () => {
      await vrun(async () => {
        const f = getRunningLoop().createFuture<void>();
        let after = false;
        const t = createTask(async () => {
          await f;
          after = true;
          return 12;
        });
        await ticks(1);
        expect(f.cancel()).toBe(true);
        const taskCancel = both ? t.cancel() : true;
        expect(taskCancel).toBe(true);
        expect(await errorOf(t)).toBeInstanceOf(CancelledError);
        expect(f.cancelled()).toBe(true);
        expect(t.cancelled()).toBe(true);
        expect(t.cancelling()).toBe(both ? 1 : 0);
        expect(after).toBe(false);
      });
    });
  }

  it("TASK-12 [CORE]: cancel() cancels the awaited future synchronously; the task may catch and return", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const fut1 = loop.createFuture<null>();
      const fut2 = loop.createFuture<null>();
      const t = createTask(async () => {
        await fut1;
        try {
          await fut2;
        } catch (e) {
          if (isCancelled(e)) return 42;
          throw e;
        }
        return 0;
      });
      await ticks(1);
      fut1.setResult(null);
      await ticks(1); // t is now blocked on fut2
      expect(fut2.done()).toBe(false);
      expect(t.cancel()).toBe(true);
      expect(fut2.cancelled()).toBe(true); // synchronously
      expect(await t).toBe(42);
      expect(t.cancelled()).toBe(false);
      expect(t.cancelling()).toBe(1);
    });
  });

  it("TASK-13: a task ignoring the cancellation goes on to await another future, which is not cancelled", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const [fut1, fut2, fut3] = [
        loop.createFuture<null>(),
        loop.createFuture<null>(),
        loop.createFuture<number>(),
      ];
      const t = createTask(async () => {
        await fut1;
        try {
          await fut2;
        } catch (e) {
          if (!isCancelled(e)) throw e;
        }
        return await fut3;
      });
      await ticks(1);
      fut1.setResult(null);
      await ticks(1);
      expect(t.cancel()).toBe(true);
      expect(fut2.cancelled()).toBe(true);
      await ticks(1);
      expect(fut3.done()).toBe(false);
      fut3.setResult(42);
      expect(await t).toBe(42);
      expect(fut3.cancelled()).toBe(false);
      expect(t.cancelled()).toBe(false);
    });
  });

  it("TASK-14 [CORE]: a task cancelling itself then sleeping is cancelled at once", async () => {
    await vrun(async () => {
      let reached = false;
      const inside: boolean[] = [];
      const t: Task<number> = createTask(async () => {
        t.cancel();
        inside.push(t.cancelled());
        await sleep(100_000);
        reached = true;
        return 12;
      });
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(inside).toEqual([false]);
      expect(t.cancelled()).toBe(true);
      expect(reached).toBe(false);
      expect(now()).toBe(0);
      expect(t.cancel()).toBe(false);
    });
  });

  it("TASK-14 [CORE]: a task cancelling itself then returning without awaiting ends cancelled; the value is dropped", async () => {
    await vrun(async () => {
      const t: Task<number> = createTask(async () => {
        t.cancel();
        return 12;
      });
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect(() => t.result()).toThrow(CancelledError);
      expect(t.cancel()).toBe(false);
    });
  });

  it("TASK-15: a task that cancels itself and then awaits a nested task cancels the nested task and its future", async () => {
    await vrun(async () => {
      const f = getRunningLoop().createFuture<void>();
      const holder: { nested?: Task<void> } = {};
      const t: Task<void> = createTask(async () => {
        const nested = createTask(async () => {
          await f;
        });
        holder.nested = nested;
        await sleep(0);
        t.cancel();
        await nested;
      });
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      const nested = holder.nested as Task<void>;
      expect(nested.cancelled()).toBe(true);
      expect(f.cancelled()).toBe(true);
      expect(t.cancelled()).toBe(true);
    });
  });

  it("TASK-16 [CORE]: after self-cancel, awaiting done things is not a cancellation point; sleep(0) is", async () => {
    await vrun(async () => {
      const done = getRunningLoop().createFuture<number>();
      done.setResult(7);
      const noSuspend = async (): Promise<string> => "ns";
      const got: unknown[] = [];
      const t: Task<void> = createTask(async () => {
        t.cancel();
        got.push(await done);
        got.push(await noSuspend());
        try {
          await sleep(0);
          got.push("not cancelled");
        } catch (e) {
          got.push(isCancelled(e) ? "cancelled at sleep(0)" : e);
          throw e;
        }
      });
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(got).toEqual([7, "ns", "cancelled at sleep(0)"]);
      expect(t.cancelled()).toBe(true);
    });
  });

  it("TASK-17: cancellation passes through a nested coroutine to its future; the outer catches it and returns", async () => {
    await vrun(async () => {
      let proof = 0;
      const waiter = getRunningLoop().createFuture<void>();
      const inner = async (): Promise<void> => {
        try {
          await waiter;
        } catch (e) {
          if (isCancelled(e)) proof += 1;
          throw e;
        }
        proof += 1000; // got past the await: wrong
      };
      const outer = createTask(async () => {
        try {
          await inner();
          proof += 10;
        } catch (e) {
          if (!isCancelled(e)) throw e;
          proof += 100;
        }
      });
      await ticks(1);
      expect(outer.cancel()).toBe(true);
      await outer;
      expect(proof).toBe(101);
      expect(waiter.cancelled()).toBe(true);
      expect(outer.cancelled()).toBe(false);
      expect(outer.cancelling()).toBe(1);
    });
  });

  it("TASK-18 [CORE]: an outer task awaiting a stubborn inner task gets the inner value and stays cancel-requested", async () => {
    await vrun(async () => {
      const inner = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (e) {
          if (!isCancelled(e)) throw e;
          await sleep(10);
          return "stubborn-val";
        }
        return "never";
      });
      const outer = createTask(async () => await inner);
      await ticks(1);
      expect(outer.cancel()).toBe(true);
      expect(await outer).toBe("stubborn-val");
      expect(outer.cancelled()).toBe(false);
      expect(outer.cancelling()).toBe(1);
      expect(inner.cancelling()).toBe(1);
      expect(now()).toBe(10);
    });
  });

  it("TASK-19 (deviation: no BaseException): an error raised while handling the cancellation makes the task fail, not cancelled", async () => {
    await vrun(async () => {
      const fatal = new Fatal("exit");
      const t = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (e) {
          if (isCancelled(e)) throw fatal;
          throw e;
        }
      });
      await ticks(1);
      expect(t.cancel()).toBe(true);
      expect(await errorOf(t)).toBe(fatal);
      expect(t.done()).toBe(true);
      expect(t.cancelled()).toBe(false);
      expect(t.exception()).toBe(fatal);
    });
  });

  it("TASK-19 (deviation): raised in the main task, that error escapes run()", async () => {
    const fatal = new Fatal("exit");
    const error = await errorOf(
      vrun(async () => {
        const me = currentTask() as Task<unknown>;
        getRunningLoop().callSoon(() => me.cancel());
        try {
          await sleep(10_000);
        } catch (e) {
          if (isCancelled(e)) throw fatal;
          throw e;
        }
      }),
    );
    expect(error).toBe(fatal);
  });
});

describe("TASK: current task and context", () => {
  it("TASK-20: currentTask() is the running task, also after interleaving with another task", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const main = currentTask();
      expect(main).toBeInstanceOf(Task);
      const fut1 = loop.createFuture<boolean>();
      const fut2 = loop.createFuture<boolean>();
      const checks: [string, boolean][] = [];
      const holder: { t1?: Task<void>; t2?: Task<void> } = {};
      const t1 = createTask(async () => {
        checks.push(["t1 before", currentTask() === holder.t1]);
        await fut1;
        checks.push(["t1 after", currentTask() === holder.t1]);
        fut2.setResult(true);
      });
      const t2 = createTask(async () => {
        checks.push(["t2 before", currentTask() === holder.t2]);
        loop.callSoon(() => fut1.setResult(true));
        await fut2;
        checks.push(["t2 after", currentTask() === holder.t2]);
      });
      holder.t1 = t1;
      holder.t2 = t2;
      await wait([t1, t2]);
      expect(checks).toEqual([
        ["t1 before", true],
        ["t2 before", true],
        ["t1 after", true],
        ["t2 after", true],
      ]);
      expect(currentTask()).toBe(main);
    });
  });

  it("TASK-20: loop callbacks and done callbacks run outside any task", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const seen: unknown[] = [];
      loop.callSoon(() => seen.push(currentTask()?.getName()));
      loop.callLater(1, () => seen.push(currentTask()?.getName()));
      const fut = loop.createFuture<void>();
      fut.addDoneCallback(() => seen.push(currentTask()?.getName()));
      fut.setResult();
      await sleep(5);
      expect(seen).toEqual([undefined, undefined, undefined]);
    });
  });

  it("TASK-20 (deviation: returns undefined, asyncio raises): currentTask() outside a running loop", () => {
    expect(currentTask()).toBeUndefined();
    expect(allTasks().size).toBe(0);
  });

  it("TASK-21: a task's context is copied at creation; its changes do not leak into the creator", async () => {
    const cvar = new AsyncLocalStorage<string>();
    const get = (): string => cvar.getStore() ?? "nope";
    await vrun(async () => {
      expect(get()).toBe("nope");
      const sub = createTask(async () => {
        await sleep(10);
        const seen = get();
        cvar.enterWith("something else");
        await sleep(0);
        return [seen, get()];
      });
      cvar.enterWith("yes");
      expect(get()).toBe("yes");
      expect(await sub).toEqual(["nope", "something else"]);
      expect(get()).toBe("yes");
    });
    expect(cvar.getStore()).toBeUndefined();
  });

  it("TASK-21: 100 concurrent tasks setting and reading their own value across sleeps never see another's", async () => {
    const cvar = new AsyncLocalStorage<number>();
    const mismatches = await vrun(async () => {
      cvar.enterWith(-1);
      let mismatches = 0;
      const sub = async (num: number): Promise<void> => {
        for (let i = 0; i < 10; i++) {
          cvar.enterWith(num + i);
          await sleep(((num * 7 + i * 13) % 50) + 1);
          if (cvar.getStore() !== num + i) mismatches++;
        }
      };
      const tasks = Array.from({ length: 100 }, (_, k) => createTask(() => sub(k % 11)));
      await gather(tasks);
      expect(cvar.getStore()).toBe(-1);
      return mismatches;
    });
    expect(mismatches).toBe(0);
    expect(cvar.getStore()).toBeUndefined();
  });

  it("TASK-22: a done callback setting the variable does not change the task's value; callbacks see the registering context", async () => {
    const cvar = new AsyncLocalStorage<string>();
    const seenByCallbacks: (string | undefined)[] = [];
    await vrun(async () => {
      const loop = getRunningLoop();
      const onDone = (): void => {
        seenByCallbacks.push(cvar.getStore());
        cvar.enterWith("something else");
      };
      expect(cvar.getStore()).toBeUndefined();
      for (let j = 0; j < 2; j++) {
        const fut = loop.createFuture<null>();
        fut.addDoneCallback(onDone);
        cvar.enterWith(`yes${j}`);
        loop.callSoon(() => fut.setResult(null));
        await fut;
        expect(cvar.getStore()).toBe(`yes${j}`);
        for (let i = 0; i < 3; i++) {
          cvar.enterWith(`yes${i}-${j}`);
          await sleep(1);
          expect(cvar.getStore()).toBe(`yes${i}-${j}`);
        }
      }
    });
    // Each callback ran in the context current when it was added.
    expect(seenByCallbacks).toEqual([undefined, "yes2-0"]);
  });

  it("TASK-23 (deviation: no context= option): a task created inside store.run() runs in that context; the caller's is untouched", async () => {
    const cvar = new AsyncLocalStorage<Map<string, number>>();
    const ret = await vrun(async () => {
      const ctx = new Map<string, number>();
      const coro = (val: number) => async (): Promise<void> => {
        await sleep(0);
        cvar.getStore()?.set("cvar", val);
      };
      const ret: (number | undefined)[] = [ctx.get("cvar")];
      const t1 = cvar.run(ctx, () => createTask(coro(1)));
      await t1;
      ret.push(ctx.get("cvar"));
      const t2 = cvar.run(ctx, () => createTask(coro(2)));
      await t2;
      ret.push(ctx.get("cvar"));
      expect(cvar.getStore()).toBeUndefined();
      return ret;
    });
    expect(ret).toEqual([undefined, 1, 2]);
  });
});

describe("TASK: never-retrieved errors", () => {
  it("TASK-UNRETRIEVED: a failed task nobody awaited is reported to the exception handler at the end of run", async () => {
    const boom = new Error("boom");
    const { result, log } = await withHandlerLog(async () => {
      const t = createTask(async () => {
        throw boom;
      });
      await ticks(2);
      expect(t.done()).toBe(true);
      return { t };
    });
    expect(log).toHaveLength(1);
    expect(log[0]?.message).toBe("Task exception was never retrieved");
    expect(log[0]?.exception).toBe(boom);
    expect(log[0]?.task).toBe(result.t);
  });

  it("TASK-UNRETRIEVED: a handler set inside main sees only the unretrieved failures", async () => {
    const log: unknown[] = [];
    const lost = new Error("lost");
    await vrun(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => log.push(context.exception));
      const seen = createTask(async () => {
        throw new Error("seen");
      });
      const checked = createTask(async () => {
        throw new Error("checked");
      });
      const unseen = createTask(async () => {
        await sleep(5);
        throw lost;
      });
      const cancelled = createTask(async () => {
        await sleep(10_000);
      });
      await errorOf(seen);
      await sleep(1);
      expect(checked.exception()).toBeInstanceOf(Error);
      cancelled.cancel();
      await sleep(10);
      expect(unseen.done()).toBe(true);
      expect(log).toEqual([]); // reported at the end of run, not before
    });
    expect(log).toEqual([lost]);
  });
});

// ------------------------------------------------------------------------------------ EAGER

const EAGER: TaskOptions = { eagerStart: true };

describe("EAGER: eager task execution", () => {
  it("EAGER-01 [CORE] (deviation: done after a microtask, not inside createTask): a task that never suspends completes before any loop iteration", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const t = createTask(async () => {
        order.push("body");
        return "hello";
      }, EAGER);
      expect(order).toEqual(["body"]); // the body ran inside createTask
      let doneAtNextIteration: boolean | undefined;
      loop.callSoon(() => {
        doneAtNextIteration = t.done();
      });
      await ticks(1);
      expect(doneAtNextIteration).toBe(true);
      expect(await t).toBe("hello");
      expect(t.cancel()).toBe(false); // EAGER-03: the result remains
      expect(t.result()).toBe("hello");
    });
  });

  it("EAGER-01: a coroutine that only sets a future's result: the future is done inside createTask", async () => {
    await vrun(async () => {
      const fut = getRunningLoop().createFuture<string>();
      const t = createTask(async () => {
        fut.setResult("m");
      }, EAGER);
      expect(fut.done()).toBe(true);
      expect(await fut).toBe("m");
      await t;
      expect(t.done()).toBe(true);
    });
  });

  it("EAGER-01: during the eager step currentTask() is the new task, it is in allTasks(), and its name is set", async () => {
    await vrun(async () => {
      const seen: {
        name?: string | undefined;
        listed?: boolean;
        task?: Task<unknown> | undefined;
      } = {};
      const t = createTask(
        async () => {
          const me = currentTask();
          seen.task = me;
          seen.name = me?.getName();
          seen.listed = me !== undefined && allTasks().has(me);
        },
        { eagerStart: true, name: "example" },
      );
      // All of this was recorded inside createTask, before it returned.
      expect(seen.task).toBe(t);
      expect(seen.name).toBe("example");
      expect(seen.listed).toBe(true);
      await t;
    });
  });

  it("EAGER-01 (deviation): an eager task sees the caller's context; its changes after suspending stay its own", async () => {
    // asyncio runs the eager step in a copy of the context. AsyncLocalStorage.run() restores
    // only its own store, so an enterWith() on another store during the synchronous eager step
    // would leak to the caller; a full snapshot costs 10x a task (docs/asyncio-differences.md).
    const cvar = new AsyncLocalStorage<string>();
    await vrun(async () => {
      cvar.enterWith("caller");
      const t = createTask(async () => {
        const before = cvar.getStore();
        await sleep(1);
        cvar.enterWith("task");
        await sleep(1);
        return [before, cvar.getStore()];
      }, EAGER);
      expect(cvar.getStore()).toBe("caller");
      expect(await t).toEqual(["caller", "task"]);
      expect(cvar.getStore()).toBe("caller");
    });
  });

  it("EAGER-02: a task that suspends first is not done after createTask; awaiting it gives its result", async () => {
    await vrun(async () => {
      const order: string[] = [];
      const t = createTask(async () => {
        order.push("start");
        await sleep(100);
        order.push("end");
        return "later";
      }, EAGER);
      expect(order).toEqual(["start"]);
      expect(t.done()).toBe(false);
      await ticks(3);
      expect(t.done()).toBe(false);
      expect(await t).toBe("later");
      expect(order).toEqual(["start", "end"]);
      expect(now()).toBe(100);
    });
  });

  it("EAGER-03: cancel('msg') right after an eager step that suspended is delivered", async () => {
    await vrun(async () => {
      const t = createTask(async () => {
        await sleep(100);
        return "never";
      }, EAGER);
      expect(t.cancel("msg")).toBe(true);
      expect(t.cancelling()).toBeGreaterThan(0);
      const error = await errorOf(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect((error as Error).message).toBe("msg");
      expect(t.cancelled()).toBe(true);
      expect(now()).toBe(0);
    });
  });

  it("EAGER-03: an eager task that failed without suspending keeps its error", async () => {
    await vrun(async () => {
      const error = new Error("eager failure");
      const t = createTask(async () => {
        throw error;
      }, EAGER);
      await ticks(1);
      expect(t.done()).toBe(true);
      expect(t.cancel()).toBe(false);
      expect(t.exception()).toBe(error);
    });
  });

  describe("EAGER-07: tasks that had to be scheduled on the loop (their body did not start inside createTask)", () => {
    const counting = (eager: boolean) => {
      const counter = { scheduled: 0 };
      const opts = eager ? EAGER : undefined;
      const start = <T>(
        create: (fn: () => Promise<T>) => Task<T>,
        fn: () => Promise<T>,
      ): Task<T> => {
        let started = false;
        const t = create(async () => {
          started = true;
          return fn();
        });
        if (!started) counter.scheduled++;
        return t;
      };
      const spawn = <T>(fn: () => Promise<T>): Task<T> => start((f) => createTask(f, opts), fn);
      const spawnIn = <T>(tg: TaskGroup, fn: () => Promise<T>): Task<T> =>
        start((f) => tg.createTask(f, opts), fn);
      return { counter, spawn, spawnIn };
    };

    for (const [eager, expected] of [
      [false, 781],
      [true, 0],
    ] as const) {
      it(`EAGER-07: recursive taskGroup (width 5, depth 4), ${eager ? "eager" : "lazy"}: ${expected}`, async () => {
        const { counter, spawn, spawnIn } = counting(eager);
        let leaves = 0;
        const recursive = async (depth: number): Promise<void> => {
          if (depth === 0) {
            leaves++;
            return;
          }
          await taskGroup(async (tg) => {
            for (let i = 0; i < 5; i++) spawnIn(tg, () => recursive(depth - 1));
          });
        };
        await vrun(async () => {
          await spawn(() => recursive(4));
        });
        expect(leaves).toBe(625);
        expect(counter.scheduled).toBe(expected);
      });

      it(`EAGER-07: recursive gather (width 5, depth 4), ${eager ? "eager" : "lazy"}: ${expected}`, async () => {
        const { counter, spawn } = counting(eager);
        let leaves = 0;
        const recursive = async (depth: number): Promise<void> => {
          if (depth === 0) {
            leaves++;
            return;
          }
          await gather(Array.from({ length: 5 }, () => spawn(() => recursive(depth - 1))));
        };
        await vrun(async () => {
          await spawn(() => recursive(4));
        });
        expect(leaves).toBe(625);
        expect(counter.scheduled).toBe(expected);
      });

      it(`EAGER-07: a chain of 100 nested awaits, ${eager ? "eager" : "lazy"}: ${eager ? 0 : 1}`, async () => {
        const { counter, spawn } = counting(eager);
        const chain = async (depth: number): Promise<number> =>
          depth === 0 ? 0 : 1 + (await chain(depth - 1));
        const depth = await vrun(async () => await spawn(() => chain(100)));
        expect(depth).toBe(100);
        expect(counter.scheduled).toBe(eager ? 0 : 1);
      });
    }
  });
});
