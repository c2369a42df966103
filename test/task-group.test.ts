/**
 * `taskGroup` / `TaskGroup`: the TG cases of the asyncio behaviour catalogue (CPython's
 * test_taskgroups.py), on virtual time. `except* E` is ported as
 * `catch (e) { const [match, rest] = (e as ExceptionGroup).split(E); if (rest) throw rest; ... }`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  ExceptionGroup,
  Future,
  getRunningLoop,
  isCancelled,
  KeyboardInterrupt,
  RuntimeError,
  sleep,
  type Task,
  TaskGroup,
  type TaskOptions,
  taskGroup,
} from "../src/index.ts";
import { now, ticks, vrun } from "./helpers/run.ts";
import {
  caught,
  errorTypes,
  MyExc,
  me,
  ValueError,
  ZeroDivisionError,
} from "./helpers/timeouts-helpers.ts";

/** Python's `except* E`: returns the matching subgroup, re-throws anything else. */
function exceptStar(
  error: unknown,
  type: abstract new (...args: never[]) => unknown,
): ExceptionGroup {
  if (!(error instanceof ExceptionGroup)) throw error;
  const [match, rest] = error.split(type);
  if (rest !== undefined) throw rest;
  if (match === undefined) throw error;
  return match;
}

/** The task options of the two task flavours every TG case must pass with (lazy, eager). */
const flavours: [string, TaskOptions][] = [
  ["lazy", {}],
  ["eager", { eagerStart: true }],
];

describe("TaskGroup", () => {
  for (const [flavour, opts] of flavours) {
    it(`TG-03 [CORE]: a failing child cancels its siblings; the group raises ExceptionGroup (${flavour})`, async () => {
      await vrun(async () => {
        let foo2Cancelled = false;
        let foo2: Task<void> | undefined;
        const error = await caught(
          taskGroup(async (tg) => {
            tg.createTask(async () => {
              await sleep(100);
              throw new ZeroDivisionError("foo1");
            }, opts);
            foo2 = tg.createTask(async () => {
              try {
                await sleep(5000);
              } catch (e) {
                if (isCancelled(e)) foo2Cancelled = true;
                throw e;
              }
            }, opts);
          }),
        );
        expect(error).toBeInstanceOf(ExceptionGroup);
        expect((error as ExceptionGroup).message).toMatch(/unhandled errors in a TaskGroup/);
        expect(errorTypes(error)).toEqual(new Set([ZeroDivisionError]));
        expect((error as ExceptionGroup).exceptions).toHaveLength(1);
        expect(foo2Cancelled).toBe(true);
        expect(foo2?.cancelled()).toBe(true);
        expect(now()).toBe(100);
        expect(me().cancelling()).toBe(0);
      });
    });
  }

  it("TG-03 [CORE]: the body's await is cancelled too and code after the group never runs", async () => {
    await vrun(async () => {
      let num = 0;
      let t2Cancelled = false;
      let bodyCancelled = false;
      const foo1 = async (): Promise<void> => {
        await sleep(100);
        throw new ZeroDivisionError("foo1");
      };
      const runner = createTask(async () => {
        await taskGroup(async (tg) => {
          tg.createTask(foo1);
          tg.createTask(foo1);
          tg.createTask(foo1);
          tg.createTask(async () => {
            try {
              await sleep(5000);
            } catch (e) {
              if (isCancelled(e)) t2Cancelled = true;
              throw e;
            }
            num += 1;
          });
          try {
            await sleep(10_000);
          } catch (e) {
            if (isCancelled(e)) bodyCancelled = true;
            throw e;
          }
        });
        num += 10;
      });
      const error = await caught(runner);
      expect(errorTypes(error)).toEqual(new Set([ZeroDivisionError]));
      // On virtual time the three crash in the same iteration, before any cancellation.
      expect((error as ExceptionGroup).exceptions).toHaveLength(3);
      expect(num).toBe(0);
      expect(t2Cancelled).toBe(true);
      expect(bodyCancelled).toBe(true);
      expect(runner.cancelled()).toBe(false);
      expect(now()).toBe(100);
    });
  });

  for (const [flavour, opts] of flavours) {
    it(`TG-04 [CORE]: cancelling the task that runs the group cancels the children and the body (${flavour})`, async () => {
      await vrun(async () => {
        const seen: string[] = [];
        const child = (i: number) => async (): Promise<void> => {
          try {
            await sleep(5000);
          } catch (e) {
            if (isCancelled(e)) seen.push(`child${i}`);
            throw e;
          }
        };
        const runner = createTask(() =>
          taskGroup(async (tg) => {
            for (let i = 0; i < 5; i++) tg.createTask(child(i), opts);
            try {
              await sleep(10_000);
            } catch (e) {
              if (isCancelled(e)) seen.push("body");
              throw e;
            }
          }),
        );
        await sleep(100);
        expect(runner.done()).toBe(false);
        runner.cancel();
        const error = await caught(runner);
        expect(error).toBeInstanceOf(CancelledError);
        expect(error).not.toBeInstanceOf(ExceptionGroup);
        expect(runner.cancelled()).toBe(true);
        expect(seen.sort()).toEqual(["body", "child0", "child1", "child2", "child3", "child4"]);
        expect(now()).toBe(100);
      });
    });
  }

  it("TG-04 [CORE]: same when the body already ended and the group waits for its children", async () => {
    await vrun(async () => {
      const seen: number[] = [];
      const tasks: Task<void>[] = [];
      const runner = createTask(() =>
        taskGroup(async (tg) => {
          for (let i = 0; i < 5; i++) {
            tasks.push(
              tg.createTask(async () => {
                try {
                  await sleep(5000);
                } catch (e) {
                  if (isCancelled(e)) seen.push(i);
                  throw e;
                }
              }),
            );
          }
        }),
      );
      await sleep(50);
      runner.cancel();
      expect(await caught(runner)).toBeInstanceOf(CancelledError);
      expect(runner.cancelled()).toBe(true);
      expect(seen.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4]);
      for (const t of tasks) expect(t.cancelled()).toBe(true);
      expect(now()).toBe(50);
    });
  });

  it("TG-04: an empty group with a sleeping body behaves the same", async () => {
    await vrun(async () => {
      let bodyCancelled = false;
      const runner = createTask(() =>
        taskGroup(async () => {
          try {
            await sleep(1000);
          } catch (e) {
            if (isCancelled(e)) bodyCancelled = true;
            throw e;
          }
        }),
      );
      await sleep(50);
      runner.cancel();
      expect(await caught(runner)).toBeInstanceOf(CancelledError);
      expect(runner.cancelled()).toBe(true);
      expect(bodyCancelled).toBe(true);
    });
  });

  /** A child whose cleanup (Python: its `finally`) raises ZeroDivisionError. */
  const failsOnCancel = async (): Promise<void> => {
    try {
      await sleep(10_000);
    } catch (e) {
      throw new ZeroDivisionError("in finally", { cause: e });
    }
  };

  it("TG-05 [CORE]: children failing while cancelled: the errors win over the cancellation", async () => {
    await vrun(async () => {
      const runner = createTask(() =>
        taskGroup(async (tg) => {
          for (let i = 0; i < 5; i++) tg.createTask(failsOnCancel);
          await sleep(10_000);
        }),
      );
      await sleep(100);
      expect(runner.done()).toBe(false);
      runner.cancel();
      const error = await caught(runner);
      expect(error).toBeInstanceOf(ExceptionGroup);
      expect(errorTypes(error)).toEqual(new Set([ZeroDivisionError]));
      expect((error as ExceptionGroup).exceptions).toHaveLength(5);
      expect(runner.cancelled()).toBe(false);
    });
  });

  for (const [flavour, opts] of flavours) {
    it(`TG-05 [CORE]: a runner that handles the group still gets the external cancellation at its next await (${flavour})`, async () => {
      await vrun(async () => {
        const levels: number[] = [];
        let nextAwait: unknown;
        let reached = false;
        const runner = createTask(async () => {
          try {
            await taskGroup(async (tg) => {
              for (let i = 0; i < 5; i++) tg.createTask(failsOnCancel, opts);
              await sleep(10_000);
            });
          } catch (e) {
            exceptStar(e, ZeroDivisionError);
            levels.push(me().cancelling());
          }
          try {
            await sleep(0);
          } catch (e) {
            nextAwait = e;
            throw e;
          }
          reached = true;
        });
        await sleep(100);
        runner.cancel();
        const error = await caught(runner);
        expect(levels).toEqual([1]);
        expect(nextAwait).toBeInstanceOf(CancelledError);
        expect(reached).toBe(false);
        expect(error).toBeInstanceOf(CancelledError);
        expect(runner.cancelled()).toBe(true);
      });
    });
  }

  for (const [sleepFirst, [flavour, opts]] of [true, false].flatMap((b) =>
    flavours.map((f) => [b, f] as const),
  )) {
    it(`TG-06: a failing body cancels the children (body ${sleepFirst ? "sleeps first" : "fails at once"}, ${flavour})`, async () => {
      await vrun(async () => {
        let t1: Task<number> | undefined;
        let t2: Task<number> | undefined;
        const zde = new ZeroDivisionError("body");
        const error = await caught(
          taskGroup(async (tg) => {
            t1 = tg.createTask(() => sleep(1000, 42), opts);
            t2 = tg.createTask(() => sleep(2000, 11), opts);
            if (sleepFirst) await sleep(100);
            throw zde;
          }),
        );
        expect(errorTypes(error)).toEqual(new Set([ZeroDivisionError]));
        expect((error as ExceptionGroup).exceptions).toEqual([zde]);
        expect(t1?.cancelled()).toBe(true);
        expect(t2?.cancelled()).toBe(true);
        expect(now()).toBe(sleepFirst ? 100 : 0);
        expect(me().cancelling()).toBe(0);
      });
    });
  }

  const crashAfter = (ms: number) => async (): Promise<void> => {
    await sleep(ms);
    throw new ValueError(String(ms));
  };

  it("TG-08: an outer child's failure only cancels a nested group: the result holds ValueError only", async () => {
    await vrun(async () => {
      const r = createTask(() =>
        taskGroup(async (g1) => {
          g1.createTask(crashAfter(100));
          await taskGroup(async (g2) => {
            g2.createTask(crashAfter(10_000));
          });
        }),
      );
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([ValueError]));
      expect(now()).toBe(100);
    });
  });

  it("TG-08: a nested group's failure appears as a nested ExceptionGroup", async () => {
    await vrun(async () => {
      const r = createTask(() =>
        taskGroup(async (g1) => {
          g1.createTask(crashAfter(10_000));
          await taskGroup(async (g2) => {
            g2.createTask(crashAfter(100));
          });
        }),
      );
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([ExceptionGroup]));
      expect(errorTypes((error as ExceptionGroup).exceptions[0])).toEqual(new Set([ValueError]));
      expect(now()).toBe(100);
    });
  });

  const crashSoon = async (): Promise<void> => {
    await sleep(300);
    throw new ZeroDivisionError("crash soon");
  };

  const slowToCancelBody = async (tg: TaskGroup): Promise<void> => {
    tg.createTask(crashSoon);
    try {
      await sleep(10_000);
    } catch (e) {
      if (isCancelled(e)) await sleep(500);
      throw e;
    }
  };

  it("TG-09: a child crash during the body's slow cancellation: ExceptionGroup, not CancelledError", async () => {
    await vrun(async () => {
      const r = createTask(() => taskGroup(slowToCancelBody));
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel();
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([ZeroDivisionError]));
      expect(now()).toBe(300);
    });
  });

  it("TG-09: same with the group in a nested task that the cancelled task awaits", async () => {
    await vrun(async () => {
      const r = createTask(async () => {
        const nested = createTask(() => taskGroup(slowToCancelBody));
        await nested;
      });
      await sleep(100);
      expect(r.done()).toBe(false);
      r.cancel();
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([ZeroDivisionError]));
    });
  });

  it("TG-10: a body that converts its CancelledError into MyExc: ExceptionGroup{MyExc}", async () => {
    await vrun(async () => {
      let childCancelled = 0;
      const r = createTask(() =>
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            try {
              await sleep(5000);
            } catch (e) {
              if (isCancelled(e)) childCancelled += 1;
              throw e;
            }
          });
          try {
            await sleep(10_000);
          } catch (e) {
            if (isCancelled(e)) throw new MyExc("converted", { cause: e });
            throw e;
          }
        }),
      );
      await sleep(100);
      r.cancel();
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([MyExc]));
      expect(childCancelled).toBe(1);
    });
  });

  it("TG-10: the body's cleanup raises MyExc while a child raises ZeroDivisionError: both are members", async () => {
    await vrun(async () => {
      const nested = async (): Promise<void> => {
        try {
          await sleep(10_000);
        } catch (e) {
          throw new MyExc("finally", { cause: e });
        }
      };
      const r = createTask(() =>
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(100);
            throw new ZeroDivisionError("crash");
          });
          await nested();
        }),
      );
      const error = await caught(r);
      expect(errorTypes(error)).toEqual(new Set([MyExc, ZeroDivisionError]));
      expect(now()).toBe(100);
    });
  });

  it("TG-12: children may add tasks to the group, also after the body ended; all complete", async () => {
    await vrun(async () => {
      const finished: number[] = [];
      const coro1 = (ms: number) => async (): Promise<void> => {
        await sleep(ms);
        finished.push(ms);
      };
      await taskGroup(async (g) => {
        g.createTask(async () => {
          await sleep(100);
          g.createTask(coro1(100));
          g.createTask(coro1(200));
          finished.push(0);
        });
      });
      expect(finished).toEqual([0, 100, 200]);
      expect(now()).toBe(300);
    });
  });

  it("TG-12: hydra: children keep spawning children until a sibling fails", async () => {
    await vrun(async () => {
      let nhydras = 0;
      const hydra = (g: TaskGroup) => async (): Promise<void> => {
        nhydras += 1;
        await sleep(10);
        g.createTask(hydra(g));
        g.createTask(hydra(g));
      };
      const hercules = async (): Promise<void> => {
        while (nhydras < 10) await sleep(15);
        throw new ZeroDivisionError("hercules");
      };
      const error = await caught(
        taskGroup(async (g) => {
          g.createTask(hydra(g));
          g.createTask(hercules);
        }),
      );
      expect(errorTypes(error)).toEqual(new Set([ZeroDivisionError]));
      expect(nhydras).toBeGreaterThanOrEqual(10);
    });
  });

  it("TG-13: children run in the async context captured when they were created", async () => {
    await vrun(async () => {
      // Python passes context=ctx; here the context is the AsyncLocalStorage store in force at
      // createTask time, a mutable object shared by the two tasks.
      const cvar = new AsyncLocalStorage<{ value: number | undefined }>();
      const ctx = { value: undefined as number | undefined };
      const seen: (number | undefined)[] = [];
      const coro = (v: number) => async (): Promise<void> => {
        seen.push(cvar.getStore()?.value);
        const store = cvar.getStore();
        if (store !== undefined) store.value = v;
      };
      await taskGroup(async (tg) => {
        await cvar.run(ctx, () => tg.createTask(coro(1)));
      });
      expect(ctx.value).toBe(1);
      await taskGroup(async (tg) => {
        await cvar.run(ctx, () => tg.createTask(coro(2)));
      });
      expect(ctx.value).toBe(2);
      expect(seen).toEqual([undefined, 1]);
      // The caller's own context is untouched.
      expect(cvar.getStore()).toBeUndefined();
    });
  });

  it("TG-13: a child's enterWith does not leak into the parent or its siblings", async () => {
    await vrun(async () => {
      const cvar = new AsyncLocalStorage<string>();
      const seen: (string | undefined)[] = [];
      await cvar.run("parent", () =>
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            cvar.enterWith("child-a");
            await sleep(10);
            seen.push(cvar.getStore());
          });
          tg.createTask(async () => {
            await sleep(5);
            seen.push(cvar.getStore());
          });
          await sleep(20);
          seen.push(cvar.getStore());
        }),
      );
      expect(seen).toEqual(["parent", "child-a", "parent"]);
    });
  });

  it("TG-14: createTask on a group shutting down after a failure raises RuntimeError; the function never runs", async () => {
    await vrun(async () => {
      let createError: unknown;
      let lateRan = false;
      const error = await caught(
        taskGroup(async (g) => {
          g.createTask(async () => {
            await sleep(1);
            throw new ZeroDivisionError("coro1");
          });
          g.createTask(async () => {
            try {
              await sleep(1000);
            } catch (e) {
              if (!isCancelled(e)) throw e;
              try {
                g.createTask(async () => {
                  lateRan = true;
                });
              } catch (err) {
                createError = err;
              }
            }
          });
        }),
      );
      expect(createError).toBeInstanceOf(RuntimeError);
      expect((createError as Error).message).toMatch(/is shutting down/);
      expect(errorTypes(error)).toEqual(new Set([ZeroDivisionError]));
      await ticks(2);
      expect(lateRan).toBe(false);
    });
  });

  it("TG-15: a context manager exit raising during the group's cancellation: 2 errors, cancelling() === 0", async () => {
    class CustomException extends Error {
      override name = "CustomException";
    }
    /** Python's `async with database():` whose exit (a `finally`) raises. */
    const database = async (body: () => Promise<void>): Promise<void> => {
      let bodyError: unknown;
      try {
        await body();
      } catch (e) {
        bodyError = e;
      }
      throw new CustomException("database exit", { cause: bodyError });
    };
    await vrun(async () => {
      const levels: number[] = [];
      const counts: number[] = [];
      const main = createTask(async () => {
        const task = me();
        try {
          await taskGroup(async (tg) => {
            await database(async () => {
              tg.createTask(async () => {
                throw new CustomException("child");
              });
              await sleep(1000);
            });
          });
        } catch (e) {
          const match = exceptStar(e, CustomException);
          levels.push(task.cancelling());
          counts.push(match.exceptions.length);
          return;
        }
        throw new Error("CustomException not raised");
      });
      await main;
      expect(levels).toEqual([0]);
      expect(counts).toEqual([2]);
    });
  });

  it("TG-16: entering the same group again, nested or after it exited, is a RuntimeError", async () => {
    await vrun(async () => {
      const tg = new TaskGroup();
      let nestedError: unknown;
      let innerRan = false;
      await tg.run(async () => {
        nestedError = await caught(
          tg.run(async () => {
            innerRan = true;
          }),
        );
      });
      expect(nestedError).toBeInstanceOf(RuntimeError);
      expect((nestedError as Error).message).toMatch(/has already been entered/);
      const afterError = await caught(
        tg.run(async () => {
          innerRan = true;
        }),
      );
      expect(afterError).toBeInstanceOf(RuntimeError);
      expect((afterError as Error).message).toMatch(/has already been entered/);
      expect(innerRan).toBe(false);
    });
  });

  it("TG-16: createTask after the group finished is a RuntimeError ('is finished'); the function never runs", async () => {
    await vrun(async () => {
      let ran = false;
      let saved: TaskGroup | undefined;
      await taskGroup(async (tg) => {
        saved = tg;
        tg.createTask(() => sleep(10));
      });
      if (saved === undefined) throw new Error("body did not run");
      const tg = saved;
      expect(() =>
        tg.createTask(async () => {
          ran = true;
        }),
      ).toThrow(/is finished/);
      expect(() => tg.createTask(async () => {})).toThrow(RuntimeError);
      await ticks(2);
      expect(ran).toBe(false);
    });
  });

  it("TG-16: createTask before entering is a RuntimeError ('has not been entered')", async () => {
    await vrun(async () => {
      let ran = false;
      const tg = new TaskGroup();
      expect(() =>
        tg.createTask(async () => {
          ran = true;
        }),
      ).toThrow(RuntimeError);
      expect(() => tg.createTask(async () => {})).toThrow(/has not been entered/);
      await ticks(2);
      expect(ran).toBe(false);
    });
  });

  it("TG-16: entering outside any task is a RuntimeError mentioning the parent task; the body never runs", async () => {
    await vrun(async () => {
      let ran = false;
      let outcome: Promise<unknown> | undefined;
      getRunningLoop().callSoon(() => {
        outcome = caught(() =>
          new TaskGroup().run(async () => {
            ran = true;
          }),
        );
      });
      await ticks(2);
      if (outcome === undefined) throw new Error("the callback did not run");
      const error = await outcome;
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toMatch(/parent task/);
      expect(ran).toBe(false);
    });
  });

  it("TG-16: outside run(), taskGroup() is a RuntimeError (no running event loop)", async () => {
    let ran = false;
    const error = await caught(
      taskGroup(async () => {
        ran = true;
      }),
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/no running event loop/);
    expect(ran).toBe(false);
  });

  for (const [flavour, opts] of flavours) {
    it(`TG-17 [CORE]: a handled child failure leaves cancelling() at 0 and does not leak a cancellation (${flavour})`, async () => {
      await vrun(async () => {
        const raiseAfter = (ms: number) => async (): Promise<void> => {
          await sleep(ms);
          throw new RuntimeError("child");
        };
        try {
          await taskGroup(async (tg) => {
            tg.createTask(raiseAfter(0), opts);
          });
        } catch (e) {
          exceptStar(e, RuntimeError);
        }
        expect(me().cancelling()).toBe(0);
        await sleep(0); // not cancelled

        try {
          await taskGroup(async (tg) => {
            tg.createTask(raiseAfter(0), opts);
            await sleep(1000);
          });
        } catch (e) {
          exceptStar(e, RuntimeError);
        }
        expect(me().cancelling()).toBe(0);
        await sleep(0); // not cancelled
        await sleep(10);
        expect(now()).toBe(10);
      });
    });
  }

  it("TG-18: nested groups both cancelled: inner handler runs, cancelling() is 1 inside the outer, 0 after", async () => {
    await vrun(async () => {
      const raiseAfter = (ms: number, Err: new (m: string) => Error) => async (): Promise<void> => {
        await sleep(ms);
        throw new Err("child");
      };
      const levels: number[] = [];
      let innerHandled = false;
      let outerHandled = false;
      try {
        await taskGroup(async (outerTg) => {
          try {
            await taskGroup(async (innerTg) => {
              innerTg.createTask(raiseAfter(0, RuntimeError));
              outerTg.createTask(raiseAfter(0, ValueError));
            });
          } catch (e) {
            exceptStar(e, RuntimeError);
            innerHandled = true;
          }
          levels.push(me().cancelling());
        });
      } catch (e) {
        exceptStar(e, ValueError);
        outerHandled = true;
      }
      expect(innerHandled).toBe(true);
      expect(outerHandled).toBe(true);
      expect(levels).toEqual([1]);
      expect(me().cancelling()).toBe(0);
      await sleep(0); // not cancelled
    });
  });

  it("TG-19 [CORE]: error and external cancel together: the handler sees cancelling() 1, the next await is cancelled", async () => {
    await vrun(async () => {
      const started = new Future<void>();
      const levels: number[] = [];
      let sleptInGroup = false;
      let sleptAfter = false;
      const inner = async (): Promise<void> => {
        try {
          await taskGroup(async (tg) => {
            tg.createTask(async () => {
              started.setResult();
              await sleep(0);
              throw new RuntimeError("child");
            });
            await sleep(1000);
            sleptInGroup = true;
          });
        } catch (e) {
          exceptStar(e, RuntimeError);
          levels.push(me().cancelling());
        }
        levels.push(me().cancelling());
        await sleep(1000);
        sleptAfter = true;
      };
      const t = createTask(inner);
      await started;
      expect(t.cancelling()).toBe(0);
      t.cancel();
      expect(t.cancelling()).toBe(1);
      const error = await caught(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(true);
      expect(levels).toEqual([1, 1]);
      expect(sleptInGroup).toBe(false);
      expect(sleptAfter).toBe(false);
      expect(now()).toBe(0);
    });
  });

  for (const [flavour, opts] of flavours) {
    it(`TG-20: a child created by a child that fails at once cancels the creator at its ${flavour === "eager" ? "1st" : "2nd"} sleep(0) (${flavour})`, async () => {
      await vrun(async () => {
        class MyError extends Error {
          override name = "MyError";
        }
        let ran = false;
        let cancelledAt = 0;
        let caughtError: unknown;
        try {
          await taskGroup(async (tg) => {
            const thirdTask = async (): Promise<void> => {
              throw new MyError("third task failed");
            };
            const secondTask = async (): Promise<void> => {
              tg.createTask(thirdTask, opts);
              try {
                cancelledAt = 1;
                await sleep(0); // eager tasks cancel here
                cancelledAt = 2;
                await sleep(0); // lazy tasks cancel here
                cancelledAt = 3;
              } catch (e) {
                if (!isCancelled(e)) throw e;
                ran = true;
              }
            };
            tg.createTask(secondTask, opts);
          });
        } catch (e) {
          caughtError = exceptStar(e, MyError).exceptions[0];
        }
        expect(ran).toBe(true);
        expect(cancelledAt).toBe(flavour === "eager" ? 1 : 2);
        expect(caughtError).toBeInstanceOf(MyError);
      });
    });
  }

  it("TG-BASE: a KeyboardInterrupt in a child cancels the others and is raised bare, not in a group", async () => {
    await vrun(async () => {
      let siblingCancelled = false;
      const interrupt = new KeyboardInterrupt();
      const error = await caught(
        taskGroup(async (tg) => {
          tg.createTask(async () => {
            await sleep(10);
            throw interrupt;
          });
          tg.createTask(async () => {
            try {
              await sleep(1000);
            } catch (e) {
              if (isCancelled(e)) siblingCancelled = true;
              throw e;
            }
          });
        }),
      );
      expect(error).toBe(interrupt);
      expect(siblingCancelled).toBe(true);
    });
  });

  it("TG-BASE: a cancelled child is not an error and does not abort the group", async () => {
    await vrun(async () => {
      let a: Task<string> | undefined;
      let b: Task<string> | undefined;
      const result = await taskGroup(async (tg) => {
        a = tg.createTask(() => sleep(100, "a"));
        b = tg.createTask(() => sleep(200, "b"));
        await sleep(10);
        a.cancel();
        return "body";
      });
      expect(result).toBe("body");
      expect(a?.cancelled()).toBe(true);
      expect(b?.result()).toBe("b");
      expect(now()).toBe(200);
    });
  });

  it("TG-ARGS: bad arguments are TypeError naming the argument and the value", async () => {
    await vrun(async () => {
      const bodyError = await caught(taskGroup(5 as never));
      expect(bodyError).toBeInstanceOf(TypeError);
      expect((bodyError as Error).message).toMatch(/"body".*5 \(number\)/);
      const runError = await caught(new TaskGroup().run("x" as never));
      expect(runError).toBeInstanceOf(TypeError);
      expect((runError as Error).message).toMatch(/"body".*"x" \(string\)/);
      let ran = false;
      await taskGroup(async (tg) => {
        expect(() => tg.createTask(5 as never)).toThrow(TypeError);
        expect(() => tg.createTask(5 as never)).toThrow(/"fn".*5 \(number\)/);
        const fn = async (): Promise<void> => {
          ran = true;
        };
        expect(() => tg.createTask(fn, { name: 5 as never })).toThrow(TypeError);
        expect(() => tg.createTask(fn, { name: 5 as never })).toThrow(/"name".*5 \(number\)/);
        expect(() => tg.createTask(fn, 5 as never)).toThrow(/"options".*5 \(number\)/);
      });
      expect(ran).toBe(false);
    });
  });
});
