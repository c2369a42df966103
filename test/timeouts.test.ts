/**
 * `timeout`, `timeoutAt`, `Timeout` and `waitFor`: the TMO and WAITFOR cases of the asyncio
 * behaviour catalogue (CPython's test_timeouts.py and test_waitfor.py), on virtual time.
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  Condition,
  createTask,
  ExceptionGroup,
  Future,
  getRunningLoop,
  isCancelled,
  Queue,
  RuntimeError,
  sleep,
  type Task,
  Timeout,
  TimeoutError,
  taskGroup,
  timeout,
  timeoutAt,
  wait,
  waitFor,
} from "../src/index.ts";
import { VirtualClock } from "../src/testing/index.ts";
import { now, ticks, vrun } from "./helpers/run.ts";
import { caught, KeyError, me, ValueError, ZeroDivisionError } from "./helpers/timeouts-helpers.ts";

/** Narrow a scope captured inside a body. */
function scopeOf(scope: Timeout | undefined): Timeout {
  if (scope === undefined) throw new Error("the body did not run");
  return scope;
}

describe("timeout / timeoutAt", () => {
  it("TMO-01 [CORE]: the body sees CancelledError at the deadline; the block raises TimeoutError", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      let inside: unknown;
      let after = false;
      const error = await caught(
        timeout(10, async (cm) => {
          scope = cm;
          try {
            await sleep(10_000);
          } catch (e) {
            inside = e;
            throw e;
          }
          after = true;
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(inside).toBeInstanceOf(CancelledError);
      expect(inside).not.toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBe(inside);
      expect(after).toBe(false);
      expect(scopeOf(scope).expired()).toBe(true);
      expect(scopeOf(scope).when()).toBe(10);
      expect(now()).toBe(10);
      expect(me().cancelling()).toBe(0);
      // The task is not left cancelled: the next await works.
      await sleep(5);
      expect(now()).toBe(15);
    });
  });

  it("TMO-01 [CORE]: timeoutAt(d) behaves the same, with when() === d", async () => {
    await vrun(async () => {
      await sleep(5);
      const deadline = now() + 10;
      let scope: Timeout | undefined;
      let inside: unknown;
      const error = await caught(
        timeoutAt(deadline, async (cm) => {
          scope = cm;
          expect(cm.when()).toBe(deadline);
          try {
            await sleep(10_000);
          } catch (e) {
            inside = e;
            throw e;
          }
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBe(inside);
      expect(inside).toBeInstanceOf(CancelledError);
      expect(scopeOf(scope).expired()).toBe(true);
      expect(scopeOf(scope).when()).toBe(deadline);
      expect(now()).toBe(15);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("TMO-01: a body that finishes in time returns its value and leaves nothing behind", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      const value = await timeout(100, async (cm) => {
        scope = cm;
        await sleep(10);
        return "ok";
      });
      expect(value).toBe("ok");
      expect(scopeOf(scope).expired()).toBe(false);
      // The deadline was disarmed: sleeping past it is not interrupted.
      await sleep(200);
      expect(now()).toBe(210);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("TMO-02 [CORE]: nested timeouts with the same deadline: only the outer raises TimeoutError", async () => {
    await vrun(async () => {
      let outer: Timeout | undefined;
      let inner: Timeout | undefined;
      let innerSaw: unknown;
      const deadline = now() + 10;
      const error = await caught(
        timeoutAt(deadline, async (o) => {
          outer = o;
          try {
            await timeoutAt(deadline, async (i) => {
              inner = i;
              await sleep(10_000);
            });
          } catch (e) {
            innerSaw = e;
            throw e;
          }
        }),
      );
      expect(innerSaw).toBeInstanceOf(CancelledError);
      expect(innerSaw).not.toBeInstanceOf(TimeoutError);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBe(innerSaw);
      expect(scopeOf(outer).expired()).toBe(true);
      expect(scopeOf(inner).expired()).toBe(true);
      expect(me().cancelling()).toBe(0);
      expect(now()).toBe(10);
    });
  });

  it("TMO-03: an inner, shorter timeout caught inside the outer block lets the outer continue", async () => {
    await vrun(async () => {
      let outer: Timeout | undefined;
      let innerError: unknown;
      let after = false;
      await timeout(1000, async (o) => {
        outer = o;
        innerError = await caught(timeout(10, () => sleep(1000)));
        expect(me().cancelling()).toBe(0);
        after = true;
        await sleep(100);
      });
      expect(innerError).toBeInstanceOf(TimeoutError);
      expect(after).toBe(true);
      expect(scopeOf(outer).expired()).toBe(false);
      expect(me().cancelling()).toBe(0);
      expect(now()).toBe(110);
    });
  });

  it("TMO-06: a foreign error propagates unchanged and the timeout is not expired", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      const keyError = new KeyError("k");
      const error = await caught(
        timeout(10, async (cm) => {
          scope = cm;
          await sleep(5);
          throw keyError;
        }),
      );
      expect(error).toBe(keyError);
      expect(keyError.cause).toBeUndefined();
      expect(scopeOf(scope).expired()).toBe(false);
      expect(me().cancelling()).toBe(0);
      // The deadline was disarmed: nothing cancels us at t=10.
      await sleep(100);
      expect(now()).toBe(105);
    });
  });

  it("TMO-07: an error replaced by the timeout's cancellation in a finally gives TimeoutError from CancelledError", async () => {
    await vrun(async () => {
      const error = await caught(
        timeout(10, async () => {
          try {
            throw new ZeroDivisionError("body");
          } finally {
            await sleep(1000);
          }
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(now()).toBe(10);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("TMO-08: a cleanup error raised during the timeout's cancellation gets a TimeoutError spliced into its cause chain", async () => {
    await vrun(async () => {
      let cancelled: unknown;
      const error = await caught(
        timeout(10, async () => {
          try {
            await sleep(1000);
          } catch (e) {
            cancelled = e;
            throw new ZeroDivisionError("cleanup", { cause: e });
          }
        }),
      );
      expect(error).toBeInstanceOf(ZeroDivisionError);
      expect(cancelled).toBeInstanceOf(CancelledError);
      const spliced = (error as Error).cause;
      expect(spliced).toBeInstanceOf(TimeoutError);
      expect((spliced as Error).cause).toBe(cancelled);
      expect(me().cancelling()).toBe(0);
      expect(now()).toBe(10);
    });
  });

  it("TMO-08: deeper chain ZeroDivisionError -> KeyError -> TimeoutError -> CancelledError", async () => {
    await vrun(async () => {
      let cancelled: unknown;
      const error = await caught(
        timeout(10, async () => {
          try {
            try {
              throw new ValueError("v");
            } finally {
              await sleep(1000);
            }
          } catch (e) {
            cancelled = e;
          }
          const key = new KeyError("k", { cause: cancelled });
          throw new ZeroDivisionError("z", { cause: key });
        }),
      );
      expect(error).toBeInstanceOf(ZeroDivisionError);
      const key = (error as Error).cause as Error;
      expect(key).toBeInstanceOf(KeyError);
      const spliced = key.cause as Error;
      expect(spliced).toBeInstanceOf(TimeoutError);
      expect(spliced.cause).toBe(cancelled);
      expect(cancelled).toBeInstanceOf(CancelledError);
    });
  });

  it("TMO-08: each member of an ExceptionGroup raised during the cancellation gets the TimeoutError too", async () => {
    await vrun(async () => {
      let cancelled: unknown;
      let group: ExceptionGroup | undefined;
      const error = await caught(
        timeout(10, async () => {
          try {
            await sleep(1000);
          } catch (e) {
            cancelled = e;
            group = new ExceptionGroup("cleanup", [new ZeroDivisionError("z", { cause: e })]);
            throw group;
          }
        }),
      );
      expect(error).toBe(group);
      const member = (error as ExceptionGroup).exceptions[0] as Error;
      expect(member.cause).toBeInstanceOf(TimeoutError);
      expect((member.cause as Error).cause).toBe(cancelled);
    });
  });

  it("TMO-09 [CORE]: a foreign cancellation inside a timeout is a CancelledError, not a TimeoutError", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      const t = createTask(() =>
        timeout(10_000, async (cm) => {
          scope = cm;
          me().cancel();
          await sleep(10_000);
        }),
      );
      const error = await caught(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error).not.toBeInstanceOf(TimeoutError);
      expect(t.cancelled()).toBe(true);
      expect(scopeOf(scope).expired()).toBe(false);
      expect(now()).toBe(0);
    });
  });

  it("TMO-09: cancelled from outside while a timeout is pending: CancelledError, not expired", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      const t = createTask(() =>
        timeout(10_000, async (cm) => {
          scope = cm;
          await sleep(10_000);
        }),
      );
      await sleep(10);
      t.cancel();
      const error = await caught(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error).not.toBeInstanceOf(TimeoutError);
      expect(scopeOf(scope).expired()).toBe(false);
      expect(now()).toBe(10);
    });
  });

  it("TMO-09: cancelled from outside after expiry: CancelledError (the foreign request wins), expired", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      const t = createTask(() =>
        timeout(10, async (cm) => {
          scope = cm;
          try {
            await sleep(10_000);
          } finally {
            // Cleanup that takes a while, during which a foreign cancel arrives.
            await sleep(0);
            await sleep(50);
          }
        }),
      );
      await sleep(20);
      expect(scopeOf(scope).expired()).toBe(true);
      t.cancel();
      const error = await caught(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error).not.toBeInstanceOf(TimeoutError);
      expect(t.cancelled()).toBe(true);
    });
  });

  it("TMO-11: a task that catches the TimeoutError ends normally with cancelling() === 0", async () => {
    await vrun(async () => {
      const t = createTask(async () => {
        try {
          await timeout(1, () => sleep(10_000));
        } catch (e) {
          if (!(e instanceof TimeoutError)) throw e;
          return "handled";
        }
        return "not reached";
      });
      expect(await t).toBe("handled");
      expect(t.done()).toBe(true);
      expect(t.cancelled()).toBe(false);
      expect(t.cancelling()).toBe(0);
      expect(now()).toBe(1);
    });
  });

  it("TMO-12: concurrent nested timeouts: the outer (earlier) deadline wins over a busy body", async () => {
    const clock = new VirtualClock();
    await vrun(
      async () => {
        let outer: Timeout | undefined;
        let inner: Timeout | undefined;
        let innerSaw: unknown;
        let reached = false;
        const error = await caught(
          timeout(2, async (o) => {
            outer = o;
            try {
              await timeout(100, async (i) => {
                inner = i;
                clock.advance(10); // crunch numbers: the loop is blocked for 10 ms
                await sleep(1000);
              });
            } catch (e) {
              innerSaw = e;
              throw e;
            }
            reached = true;
            await sleep(10_000);
          }),
        );
        expect(error).toBeInstanceOf(TimeoutError);
        expect(innerSaw).toBeInstanceOf(CancelledError);
        expect(innerSaw).not.toBeInstanceOf(TimeoutError);
        expect(scopeOf(outer).expired()).toBe(true);
        expect(scopeOf(inner).expired()).toBe(false);
        expect(reached).toBe(false);
        expect(now()).toBe(10);
        expect(me().cancelling()).toBe(0);
      },
      { clock },
    );
  });

  it("TMO-12: loop busy past both deadlines: the outer one still wins and the rest is skipped", async () => {
    const clock = new VirtualClock();
    await vrun(
      async () => {
        let outer: Timeout | undefined;
        let inner: Timeout | undefined;
        let innerSaw: unknown;
        let reached = false;
        const error = await caught(
          timeout(100, async (o) => {
            outer = o;
            try {
              await timeout(10, async (i) => {
                inner = i;
                clock.advance(100); // the loop is blocked past both deadlines
                await sleep(1000);
              });
            } catch (e) {
              innerSaw = e;
              throw e;
            }
            reached = true;
            await sleep(10_000);
          }),
        );
        expect(error).toBeInstanceOf(TimeoutError);
        expect(innerSaw).toBeInstanceOf(CancelledError);
        expect(innerSaw).not.toBeInstanceOf(TimeoutError);
        expect(scopeOf(outer).expired()).toBe(true);
        expect(scopeOf(inner).expired()).toBe(true);
        expect(reached).toBe(false);
        expect(now()).toBe(100);
        expect(me().cancelling()).toBe(0);
      },
      { clock },
    );
  });

  it("TMO-13: reschedule() moves or removes the deadline from outside the task", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      const t = createTask(() =>
        timeoutAt(now() + 10_000, async (cm) => {
          scope = cm;
          await sleep(50_000);
        }),
      );
      await sleep(1);
      const cm = scopeOf(scope);
      expect(cm.when()).toBe(10_000);
      cm.reschedule(now() + 30_000);
      expect(cm.when()).toBe(30_001);
      await sleep(15_000); // past the original deadline: nothing happens
      expect(t.done()).toBe(false);
      expect(cm.expired()).toBe(false);
      cm.reschedule(null);
      expect(cm.when()).toBeNull();
      await sleep(20_000); // past the rescheduled deadline: nothing happens either
      expect(t.done()).toBe(false);
      expect(cm.expired()).toBe(false);
      t.cancel();
      const error = await caught(t);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error).not.toBeInstanceOf(TimeoutError);
      expect(cm.expired()).toBe(false);
      expect(now()).toBe(35_001);
    });
  });

  it("TMO-13: reschedule() to an earlier time, or to the past, fires accordingly", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      const t = createTask(() =>
        timeout(null, async (cm) => {
          scope = cm;
          await sleep(50_000);
        }),
      );
      await sleep(1);
      expect(scopeOf(scope).when()).toBeNull();
      scopeOf(scope).reschedule(now() + 5);
      expect(await caught(t)).toBeInstanceOf(TimeoutError);
      expect(now()).toBe(6);

      let scope2: Timeout | undefined;
      const t2 = createTask(() =>
        timeout(1000, async (cm) => {
          scope2 = cm;
          await sleep(50_000);
        }),
      );
      await sleep(1);
      scopeOf(scope2).reschedule(now() - 100); // in the past: fires on the next iteration
      expect(await caught(t2)).toBeInstanceOf(TimeoutError);
      expect(now()).toBe(7);
    });
  });

  it("TMO-14: a timeout nested in the finally of an expired timeout: both raise TimeoutError", async () => {
    await vrun(async () => {
      let innerError: unknown;
      const error = await caught(
        timeout(10, async () => {
          try {
            await sleep(1000);
          } finally {
            innerError = await caught(timeout(10, () => sleep(10_000)));
          }
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(innerError).toBeInstanceOf(TimeoutError);
      const outerCause = (error as Error).cause;
      const innerCause = (innerError as Error).cause;
      expect(outerCause).toBeInstanceOf(CancelledError);
      expect(innerCause).toBeInstanceOf(CancelledError);
      expect(innerCause).not.toBe(outerCause);
      expect((outerCause as Error).cause).toBeUndefined();
      expect(now()).toBe(20);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("TMO-15 [CORE]: after a caught, not uncancelled cancellation, timeout(0) in finally raises TimeoutError", async () => {
    await vrun(async () => {
      const t = createTask(async () => {
        let error: unknown;
        try {
          me().cancel();
          await sleep(1000);
        } catch (e) {
          if (!isCancelled(e)) throw e;
        } finally {
          expect(me().cancelling()).toBe(1);
          error = await caught(timeout(0, () => sleep(1000)));
        }
        return error;
      });
      const error = await t;
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(t.cancelled()).toBe(false);
      expect(t.cancelling()).toBe(1);
      expect(now()).toBe(0);
    });
  });

  it("TMO-15 [CORE]: same situation, a cancel() inside the timeout body raises CancelledError", async () => {
    await vrun(async () => {
      const t = createTask(async () => {
        let error: unknown;
        try {
          me().cancel();
          await sleep(1000);
        } catch (e) {
          if (!isCancelled(e)) throw e;
        } finally {
          error = await caught(
            timeout(1000, async () => {
              me().cancel();
              await sleep(2000);
            }),
          );
        }
        return error;
      });
      const error = await t;
      expect(error).toBeInstanceOf(CancelledError);
      expect(error).not.toBeInstanceOf(TimeoutError);
      expect(now()).toBe(0);
    });
  });

  it("TMO-16: reschedule() before entering says 'has not been entered'", async () => {
    await vrun(async () => {
      const cm = new Timeout(5);
      expect(cm.when()).toBe(5);
      expect(cm.expired()).toBe(false);
      expect(() => cm.reschedule(10)).toThrow(RuntimeError);
      expect(() => cm.reschedule(10)).toThrow(/has not been entered/);
      expect(cm.when()).toBe(5);
      expect(String(cm)).toBe("<Timeout [created]>");
    });
  });

  it("TMO-16: reschedule() after a normal exit says 'finished'", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      await timeout(100, async (cm) => {
        scope = cm;
      });
      const cm = scopeOf(scope);
      expect(() => cm.reschedule(10)).toThrow(RuntimeError);
      expect(() => cm.reschedule(10)).toThrow(/finished/);
      expect(String(cm)).toBe("<Timeout [finished]>");
    });
  });

  it("TMO-16: reschedule() after a timeout exit says 'expired'", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      await caught(
        timeout(1, async (cm) => {
          scope = cm;
          await sleep(100);
        }),
      );
      const cm = scopeOf(scope);
      expect(() => cm.reschedule(10)).toThrow(RuntimeError);
      expect(() => cm.reschedule(10)).toThrow(/expired/);
      expect(String(cm)).toBe("<Timeout [expired]>");
    });
  });

  it("TMO-16: reschedule() inside the block after the CancelledError was caught says 'expiring'", async () => {
    await vrun(async () => {
      let rescheduleError: unknown;
      const value = await timeout(1, async (cm) => {
        try {
          await sleep(100);
        } catch (e) {
          if (!isCancelled(e)) throw e;
        }
        expect(cm.expired()).toBe(true);
        try {
          cm.reschedule(1000);
        } catch (e) {
          rescheduleError = e;
        }
        return "swallowed";
      });
      // The body swallowed the cancellation: nothing is raised, the value is returned.
      expect(value).toBe("swallowed");
      expect(rescheduleError).toBeInstanceOf(RuntimeError);
      expect((rescheduleError as Error).message).toMatch(/expiring/);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("TMO-16: entering outside any task is a RuntimeError mentioning 'task'; the body never runs", async () => {
    await vrun(async () => {
      let ran = false;
      let outcome: Promise<unknown> | undefined;
      getRunningLoop().callSoon(() => {
        outcome = caught(() =>
          timeout(10, async () => {
            ran = true;
          }),
        );
      });
      await ticks(2);
      if (outcome === undefined) throw new Error("the callback did not run");
      const error = await outcome;
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toMatch(/task/);
      expect(ran).toBe(false);
    });
  });

  it("TMO-16: outside run(), timeout() is a RuntimeError (no running event loop)", async () => {
    let ran = false;
    const error = await caught(() =>
      timeout(10, async () => {
        ran = true;
      }),
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/no running event loop/);
    expect(ran).toBe(false);
  });

  it("TMO-16: toString() shows the state and, while active, the deadline", async () => {
    await vrun(async () => {
      let active = "";
      let disabled = "";
      await timeoutAt(12.345, async (cm) => {
        active = String(cm);
      });
      await timeout(null, async (cm) => {
        disabled = String(cm);
      });
      expect(active).toBe("<Timeout [active] when=12.345>");
      expect(disabled).toBe("<Timeout [active] when=null>");
    });
  });

  it("TMO-17 [CORE]: a timeout around a TaskGroup raises TimeoutError, not an ExceptionGroup", async () => {
    await vrun(async () => {
      let child: Task<void> | undefined;
      let scope: Timeout | undefined;
      const error = await caught(
        timeout(10, async (cm) => {
          scope = cm;
          await taskGroup(async (tg) => {
            child = tg.createTask(() => sleep(1000));
          });
        }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error).not.toBeInstanceOf(ExceptionGroup);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(child?.cancelled()).toBe(true);
      expect(scopeOf(scope).expired()).toBe(true);
      expect(me().cancelling()).toBe(0);
      expect(now()).toBe(10);
    });
  });

  it("TMO-19: timeout(-1) around a TaskGroup around sleep(0) raises TimeoutError from CancelledError", async () => {
    await vrun(async () => {
      let started = false;
      const error = await caught(
        timeout(-1, () =>
          taskGroup(async () => {
            started = true;
            await sleep(0);
          }),
        ),
      );
      expect(started).toBe(true);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("TMO-19: timeout(0) or timeout(-1) around sleep(0): the body starts and its first yield raises", async () => {
    await vrun(async () => {
      for (const ms of [0, -1]) {
        let started = false;
        let after = false;
        const error = await caught(
          timeout(ms, async () => {
            started = true;
            await sleep(0);
            after = true;
          }),
        );
        expect(started).toBe(true);
        expect(after).toBe(false);
        expect(error).toBeInstanceOf(TimeoutError);
        expect(me().cancelling()).toBe(0);
      }
      expect(now()).toBe(0);
    });
  });

  it("TMO-ARGS: bad arguments are TypeError/RangeError naming the argument and the value", async () => {
    await vrun(async () => {
      let ran = false;
      const body = async (): Promise<void> => {
        ran = true;
      };
      const cases: [() => unknown, ErrorConstructor, RegExp][] = [
        [() => timeout(Number.NaN, body), RangeError, /"ms".*NaN/],
        [() => timeout("10" as never, body), TypeError, /"ms".*"10" \(string\)/],
        [() => timeout(undefined as never, body), TypeError, /"ms".*undefined/],
        [() => timeout(10, 5 as never), TypeError, /"body".*5 \(number\)/],
        [() => timeoutAt(Number.NaN, body), RangeError, /"when".*NaN/],
        [() => timeoutAt({} as never, body), TypeError, /"when"/],
        [() => timeoutAt(10, null as never), TypeError, /"body".*null/],
        [() => new Timeout("x" as never), TypeError, /"when".*"x" \(string\)/],
      ];
      for (const [call, type, message] of cases) {
        const error = await caught(call);
        expect(error).toBeInstanceOf(type);
        expect((error as Error).message).toMatch(message);
      }
      expect(ran).toBe(false);
      let rescheduleError: unknown;
      await timeout(100, async (cm) => {
        try {
          cm.reschedule(Number.NaN);
        } catch (e) {
          rescheduleError = e;
        }
        expect(cm.when()).toBe(100);
      });
      expect(rescheduleError).toBeInstanceOf(RangeError);
      expect((rescheduleError as Error).message).toMatch(/"when".*NaN/);
    });
  });

  it("TMO-ARGS: an infinite delay never fires", async () => {
    await vrun(async () => {
      let scope: Timeout | undefined;
      expect(
        await timeout(Number.POSITIVE_INFINITY, async (cm) => {
          scope = cm;
          await sleep(1_000_000);
          return "done";
        }),
      ).toBe("done");
      expect(scopeOf(scope).expired()).toBe(false);
    });
  });
});

describe("waitFor", () => {
  it("WAITFOR-01 [CORE]: on timeout the task is cancelled and has finished before TimeoutError is raised", async () => {
    await vrun(async () => {
      const events: string[] = [];
      let running = false;
      const foo = createTask(async () => {
        running = true;
        try {
          await sleep(10_000);
        } finally {
          running = false;
          events.push("finally");
        }
        return "done";
      });
      const error = await caught(waitFor(foo, 100));
      events.push("raised");
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(foo.done()).toBe(true);
      expect(foo.cancelled()).toBe(true);
      expect(running).toBe(false);
      expect(events).toEqual(["finally", "raised"]);
      expect(now()).toBe(100);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("WAITFOR-01: a coroutine function is run and stopped the same way", async () => {
    await vrun(async () => {
      const events: string[] = [];
      const error = await caught(
        waitFor(async () => {
          events.push("started");
          try {
            await sleep(10_000);
          } finally {
            events.push("finally");
          }
        }, 100),
      );
      events.push("raised");
      expect(error).toBeInstanceOf(TimeoutError);
      expect(events).toEqual(["started", "finally", "raised"]);
      expect(now()).toBe(100);
    });
  });

  it("WAITFOR-01: a result in time is returned; a failure in time propagates", async () => {
    await vrun(async () => {
      expect(await waitFor(() => sleep(10, "ok"), 100)).toBe("ok");
      expect(
        await waitFor(
          createTask(() => sleep(10, "task")),
          100,
        ),
      ).toBe("task");
      expect(await waitFor(sleep(10, "promise"), null)).toBe("promise");
      const boom = new ValueError("boom");
      expect(
        await caught(
          waitFor(async () => {
            await sleep(10);
            throw boom;
          }, 100),
        ),
      ).toBe(boom);
      expect(now()).toBe(40);
      // No timer is left to cancel us later.
      await sleep(200);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("WAITFOR-03: waitFor(doneFuture, 0) returns its result without TimeoutError", async () => {
    await vrun(async () => {
      const fut = new Future<string>();
      fut.setResult("done");
      expect(await waitFor(fut, 0)).toBe("done");
      expect(await waitFor(fut, -1)).toBe("done");
      const task = createTask(async () => "task-done");
      await ticks(2);
      expect(task.done()).toBe(true);
      expect(await waitFor(task, 0)).toBe("task-done");
      const failed = new Future<string>();
      const boom = new ValueError("boom");
      failed.setException(boom);
      expect(await caught(waitFor(failed, 0))).toBe(boom);
      expect(now()).toBe(0);
    });
  });

  it("WAITFOR-03: waitFor(coroutine, 0) raises TimeoutError and the body never starts", async () => {
    await vrun(async () => {
      let started = false;
      const error = await caught(
        waitFor(async () => {
          started = true;
          await sleep(100);
        }, 0),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(started).toBe(false);
      expect(now()).toBe(0);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("WAITFOR-05 [CORE]: an inner coroutine that swallows the cancellation returns its value", async () => {
    await vrun(async () => {
      const value = await waitFor(async () => {
        try {
          await sleep(1000);
        } catch (e) {
          if (isCancelled(e)) return 1;
          throw e;
        }
        return 0;
      }, 10);
      expect(value).toBe(1);
      expect(now()).toBe(10);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("WAITFOR-05 [CORE]: an inner task that swallows the cancellation gives its value (42)", async () => {
    await vrun(async () => {
      const inner = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (e) {
          if (isCancelled(e)) return 42;
          throw e;
        }
        return 0;
      });
      expect(await waitFor(inner, 100)).toBe(42);
      expect(inner.cancelled()).toBe(false);
      expect(now()).toBe(100);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("WAITFOR-06: with a timeout, TimeoutError comes only after the inner task finished its cleanup", async () => {
    await vrun(async () => {
      let taskDone = false;
      const inner = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (e) {
          await sleep(50);
          throw e;
        } finally {
          taskDone = true;
        }
      });
      const error = await caught(waitFor(inner, 1));
      expect(taskDone).toBe(true);
      expect(inner.cancelled()).toBe(true);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(now()).toBe(51);
    });
  });

  it("WAITFOR-06: with timeout 0, TimeoutError comes only after the started task finished its cleanup", async () => {
    await vrun(async () => {
      let taskDone = false;
      const inner = createTask(async () => {
        try {
          await sleep(10_000);
        } catch (e) {
          await sleep(50);
          throw e;
        } finally {
          taskDone = true;
        }
      });
      await sleep(1);
      const error = await caught(waitFor(inner, 0));
      expect(taskDone).toBe(true);
      expect(inner.cancelled()).toBe(true);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as Error).cause).toBeInstanceOf(CancelledError);
      expect(now()).toBe(51);
    });
  });

  it("WAITFOR-06: with timeout 0, an inner error raised during the cancellation propagates as is", async () => {
    await vrun(async () => {
      const boom = new ValueError("cleanup failed");
      const inner = createTask(async () => {
        try {
          await sleep(10_000);
        } catch {
          throw boom;
        }
      });
      await sleep(1);
      expect(await caught(waitFor(inner, 0))).toBe(boom);
      const inner2 = createTask(async () => {
        try {
          await sleep(10_000);
        } catch {
          throw boom;
        }
      });
      expect(await caught(waitFor(inner2, 10))).toBe(boom);
    });
  });

  for (const ms of [null, 60_000]) {
    it(`WAITFOR-08 [CORE]: cancelling the task blocked in waitFor(task, ${ms}) cancels the inner task`, async () => {
      await vrun(async () => {
        const fut = new Future<void>();
        const task = createTask(async () => {
          await fut;
        });
        const w = createTask(() => waitFor(task, ms));
        getRunningLoop().callSoon(() => w.cancel());
        const error = await caught(w);
        expect(error).toBeInstanceOf(CancelledError);
        expect(w.cancelled()).toBe(true);
        expect(task.cancelled()).toBe(true);
        expect(fut.cancelled()).toBe(true);
        expect(now()).toBe(0);
      });
    });
  }

  it("WAITFOR-08: cancelling later (after the tasks ran) also cancels the inner task", async () => {
    await vrun(async () => {
      const fut = new Future<void>();
      const task = createTask(async () => {
        await fut;
      });
      const w = createTask(() => waitFor(task, 60_000));
      await sleep(10);
      w.cancel();
      const error = await caught(w);
      expect(error).toBeInstanceOf(CancelledError);
      expect(error).not.toBeInstanceOf(TimeoutError);
      expect(task.cancelled()).toBe(true);
      expect(fut.cancelled()).toBe(true);
    });
  });

  /** Ignores every cancellation until 200 ms have passed (CPython's SlowTask). */
  class SlowTask {
    static readonly TASK_TIMEOUT = 200;
    exited = false;
    async run(): Promise<void> {
      const exitAt = now() + SlowTask.TASK_TIMEOUT;
      for (;;) {
        const left = exitAt - now();
        if (left <= 0) break;
        try {
          await sleep(left);
        } catch (e) {
          if (!isCancelled(e)) throw e;
        }
      }
      this.exited = true;
    }
  }

  it("WAITFOR-11: cancelling a task running waitFor(slow, 400) finishes only after slow exited", async () => {
    await vrun(async () => {
      const slow = new SlowTask();
      const w = createTask(() => waitFor(() => slow.run(), SlowTask.TASK_TIMEOUT * 2));
      await ticks(1);
      w.cancel();
      await wait([w]);
      expect(slow.exited).toBe(true);
      expect(now()).toBe(200);
      // 3.12 semantics: the inner swallowed the cancellation and returned, so its value wins.
      expect(w.cancelled()).toBe(false);
      expect(w.result()).toBeUndefined();
      expect(w.cancelling()).toBe(1);
    });
  });

  it("WAITFOR-11: waitFor(slow, 100) ends only after slow exited (and returns its value)", async () => {
    await vrun(async () => {
      const slow = new SlowTask();
      const result = await waitFor(() => slow.run(), SlowTask.TASK_TIMEOUT / 2);
      expect(slow.exited).toBe(true);
      expect(result).toBeUndefined();
      expect(now()).toBe(200);
      expect(me().cancelling()).toBe(0);
    });
  });

  it("WAITFOR-12: waitFor(queue.get(), 100) on an empty queue raises TimeoutError and leaves no getter", async () => {
    await vrun(async () => {
      const queue = new Queue<number>();
      const error = await caught(waitFor(() => queue.get(), 100));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(queue.statistics().tasksWaitingGet).toBe(0);
      expect(now()).toBe(100);
      // A later put is not swallowed by a ghost getter.
      queue.putNowait(1);
      expect(queue.qsize()).toBe(1);
      expect(await queue.get()).toBe(1);
    });
  });

  it("WAITFOR-12: waitFor(cond.wait(), 500) inside the lock raises TimeoutError with the lock held again", async () => {
    await vrun(async () => {
      const cond = new Condition();
      let lockedWhenRaised: boolean | undefined;
      let error: unknown;
      await cond.withLock(async () => {
        error = await caught(waitFor(() => cond.wait(), 500));
        lockedWhenRaised = cond.locked();
      });
      expect(error).toBeInstanceOf(TimeoutError);
      expect(lockedWhenRaised).toBe(true);
      expect(cond.locked()).toBe(false);
      expect(cond.statistics().tasksWaiting).toBe(0);
      expect(now()).toBe(500);
    });
  });

  it("WAITFOR-12: a getter stopped by waitFor's timeout has removed its waiter when TimeoutError arrives", async () => {
    await vrun(async () => {
      // A minimal queue getter: registers a waiter future and removes it on the way out.
      const getters = new Set<Future<number>>();
      const get = async (): Promise<number> => {
        const getter = new Future<number>();
        getters.add(getter);
        try {
          return await getter;
        } finally {
          getters.delete(getter);
        }
      };
      const error = await caught(waitFor(get, 100));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(getters.size).toBe(0);
      expect(now()).toBe(100);
      // With the getter started as a task, the same holds.
      const task = createTask(get);
      expect(await caught(waitFor(task, 100))).toBeInstanceOf(TimeoutError);
      expect(task.cancelled()).toBe(true);
      expect(getters.size).toBe(0);
    });
  });

  it("WAITFOR-ARGS: bad arguments are TypeError/RangeError naming the argument and the value", async () => {
    await vrun(async () => {
      let ran = false;
      const fn = async (): Promise<void> => {
        ran = true;
      };
      const cases: [() => unknown, ErrorConstructor, RegExp][] = [
        [() => waitFor(5 as never, 1), TypeError, /"aw".*5 \(number\)/],
        [() => waitFor(null as never, 1), TypeError, /"aw".*null/],
        [() => waitFor({} as never, 1), TypeError, /"aw".*Object/],
        [() => waitFor(fn, Number.NaN), RangeError, /"ms".*NaN/],
        [() => waitFor(fn, "1" as never), TypeError, /"ms".*"1" \(string\)/],
        [() => waitFor(fn, undefined as never), TypeError, /"ms".*undefined/],
      ];
      for (const [call, type, message] of cases) {
        const error = await caught(call);
        expect(error).toBeInstanceOf(type);
        expect((error as Error).message).toMatch(message);
      }
      expect(ran).toBe(false);
    });
  });
});
