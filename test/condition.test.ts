import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  Condition,
  createTask,
  currentTask,
  getRunningLoop,
  Lock,
  RuntimeError,
  sleep,
  type Task,
  TimeoutError,
  timeout,
  waitFor,
} from "../src/index.ts";
import { ticks, vrun } from "./helpers/run.ts";
import { errorOf, expectThrows } from "./helpers/sync.ts";

describe("Condition: asyncio cases", () => {
  it("COND-01: each release lets exactly one notified waiter re-acquire (ticks)", async () => {
    await vrun(async () => {
      const cond = new Condition();
      const result: number[] = [];
      const c = (n: number) => async () => {
        await cond.acquire();
        if (await cond.wait()) result.push(n);
        return true;
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      const t3 = createTask(c(3));
      await ticks(1);
      expect(result).toEqual([]);
      expect(cond.locked()).toBe(false);

      expect(await cond.acquire()).toBe(true);
      cond.notify();
      await ticks(1);
      expect(result).toEqual([]);
      expect(cond.locked()).toBe(true);

      cond.release();
      await ticks(1);
      expect(result).toEqual([1]);
      expect(cond.locked()).toBe(true);

      cond.notify(2);
      await ticks(1);
      expect(result).toEqual([1]);
      expect(cond.locked()).toBe(true);

      cond.release();
      await ticks(1);
      expect(result).toEqual([1, 2]);
      expect(cond.locked()).toBe(true);

      cond.release();
      await ticks(1);
      expect(result).toEqual([1, 2, 3]);
      expect(cond.locked()).toBe(true);
      for (const t of [t1, t2, t3]) {
        expect(t.done()).toBe(true);
        expect(t.result()).toBe(true);
      }
    });
  });

  it("COND-02 [CORE]: a waiter cancelled in wait() holds the lock again when it sees CancelledError", async () => {
    await vrun(async () => {
      const cond = new Condition();
      await cond.acquire();
      const wait = createTask(() => cond.wait());
      getRunningLoop().callSoon(() => wait.cancel());
      expect(await errorOf(wait)).toBeInstanceOf(CancelledError);
      expect(cond.statistics().tasksWaiting).toBe(0);
      expect(cond.locked()).toBe(true);
      cond.release();

      // Verified variant: the waiter must wait until the test task releases the lock.
      let heldWhenCancelled: boolean | undefined;
      const waiter = createTask(async () => {
        await cond.acquire();
        try {
          await cond.wait();
        } catch (error) {
          heldWhenCancelled =
            cond.locked() && cond.statistics().lock.owner === currentTask() && isCancel(error);
          throw error;
        } finally {
          cond.release();
        }
      });
      await ticks(1);
      expect(cond.locked()).toBe(false); // the waiter released it in wait()
      await cond.acquire();
      waiter.cancel();
      await ticks(3);
      expect(waiter.done()).toBe(false); // re-acquiring: blocked behind us
      expect(heldWhenCancelled).toBeUndefined();
      cond.release();
      expect(await errorOf(waiter)).toBeInstanceOf(CancelledError);
      expect(heldWhenCancelled).toBe(true);
      expect(cond.locked()).toBe(false);
    });
  });

  it("COND-03: cancelled while contesting the lock after a notify, the waiter still re-acquires", async () => {
    await vrun(async () => {
      const cond = new Condition();
      const loop = getRunningLoop();
      await cond.acquire();
      const waitTask = createTask(() => cond.wait());
      await ticks(1);
      expect(cond.locked()).toBe(false);
      await cond.acquire();
      cond.notify();
      loop.callSoon(() => waitTask.cancel());
      loop.callSoon(() => cond.release());
      let outcome: unknown = "returned";
      try {
        await waitTask;
      } catch (error) {
        outcome = error;
      }
      // Either ending is fine; what matters is that the lock is held again.
      expect(outcome === "returned" || outcome instanceof CancelledError).toBe(true);
      expect(cond.locked()).toBe(true);
    });
  });

  it("COND-04: cancelled after the notify, while re-acquiring: cancelled, no deadlock", async () => {
    await vrun(async () => {
      const cond = new Condition();
      let waited = false;
      const waiter = createTask(() =>
        cond.withLock(async () => {
          waited = true;
          await cond.wait();
        }),
      );
      await ticks(1);
      await cond.acquire();
      cond.notify();
      await ticks(1); // the waiter now waits in re-acquire
      waiter.cancel();
      await ticks(1);
      cond.release();
      await ticks(1);
      expect(waiter.cancelled()).toBe(true);
      expect(waited).toBe(true);
      expect(cond.locked()).toBe(false);
    });
  });

  it("COND-05: wait(), notify() and notifyAll() without the lock are RuntimeErrors", async () => {
    await vrun(async () => {
      const cond = new Condition();
      const error = await errorOf(cond.wait());
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toBe("cannot wait on un-acquired lock");
      expectThrows(() => cond.notify(), RuntimeError, "cannot notify on un-acquired lock");
      expectThrows(() => cond.notifyAll(), RuntimeError, "cannot notify on un-acquired lock");
    });
  });

  it("COND-06: waitFor keeps waiting while the predicate is false; a true one needs no lock", async () => {
    await vrun(async () => {
      const cond = new Condition();
      let presult = false;
      const result: number[] = [];
      const t = createTask(async () => {
        await cond.acquire();
        if (await cond.waitFor(() => presult)) {
          result.push(1);
          cond.release();
        }
        return true;
      });
      await ticks(1);
      expect(result).toEqual([]);

      await cond.acquire();
      cond.notify();
      cond.release();
      await ticks(1);
      expect(result).toEqual([]);

      presult = true;
      await cond.acquire();
      cond.notify();
      cond.release();
      await ticks(1);
      expect(result).toEqual([1]);
      expect(t.done()).toBe(true);
      expect(t.result()).toBe(true);

      // test_wait_for_unacquired
      expect(await cond.waitFor(() => [1, 2, 3])).toEqual([1, 2, 3]);
      expect(await errorOf(cond.waitFor(() => false))).toBeInstanceOf(RuntimeError);
      expect(() => cond.waitFor("x" as never)).toThrow(TypeError);
    });
  });

  it("COND-07: notify(n) wakes in FIFO order, over-notifying is fine; notifyAll wakes all", async () => {
    await vrun(async () => {
      const cond = new Condition();
      const result: number[] = [];
      const c = (n: number) => async () => {
        await cond.acquire();
        if (await cond.wait()) {
          result.push(n);
          cond.release();
        }
        return true;
      };
      const tasks = [createTask(c(1)), createTask(c(2)), createTask(c(3))];
      await ticks(1);
      expect(result).toEqual([]);

      await cond.acquire();
      cond.notify(1);
      cond.release();
      await ticks(1);
      expect(result).toEqual([1]);

      await cond.acquire();
      cond.notify(1);
      cond.notify(2048);
      cond.release();
      await ticks(1);
      expect(result).toEqual([1, 2, 3]);
      for (const t of tasks) expect(t.result()).toBe(true);

      const all: number[] = [];
      const d = (n: number) => async () => {
        await cond.acquire();
        if (await cond.wait()) {
          all.push(n);
          cond.release();
        }
      };
      createTask(d(1));
      createTask(d(2));
      await ticks(1);
      await cond.acquire();
      cond.notifyAll();
      cond.release();
      await ticks(1);
      expect(all).toEqual([1, 2]);
    });
  });

  for (const relock of [false, true]) {
    it(`COND-10 [CORE]: a consumer cancelled as it is notified${relock ? " (while re-acquiring)" : ""} passes the notification on`, async () => {
      await vrun(async () => {
        const cond = new Condition();
        let state = 0;
        const consumer = async (): Promise<void> => {
          await cond.withLock(async () => {
            for (;;) {
              await cond.waitFor(() => state !== 0);
              if (state < 0) return;
              state--;
            }
          });
        };
        const c = [createTask(consumer), createTask(consumer)];
        await ticks(1);
        await cond.withLock(async () => {
          state++;
          cond.notify(1);
          if (relock) await ticks(1);
          (c[0] as Task<void>).cancel();
          try {
            await timeout(10, () => cond.waitFor(() => state === 0));
          } catch (error) {
            if (!(error instanceof TimeoutError)) throw error;
          }
          expect(state).toBe(0);
          state = -1;
          cond.notifyAll();
        });
        await c[1];
        expect(await errorOf(c[0] as Task<void>)).toBeInstanceOf(CancelledError);
      });
    });
  }

  it("COND (test_cancelled_error_wakeup / _re_aquire): the same CancelledError instance is re-raised", async () => {
    await vrun(async () => {
      for (const reacquire of [false, true]) {
        const cond = new Condition();
        let wake = false;
        let raised: unknown;
        const task = createTask(() =>
          cond.withLock(async () => {
            try {
              await cond.waitFor(() => wake);
            } catch (error) {
              raised = error;
              throw error;
            }
          }),
        );
        await ticks(1);
        if (reacquire) {
          await cond.acquire();
          wake = true;
          cond.notify();
          await ticks(1);
          task.cancel("foo");
          cond.release();
        } else {
          task.cancel("foo");
        }
        const error = await errorOf(task);
        expect(error).toBeInstanceOf(CancelledError);
        expect((error as Error).message).toBe("foo");
        expect(error).toBe(raised);
      }
    });
  });
});

describe("Condition: API", () => {
  it("uses the given lock; withLock, lock() and the lock's own methods agree", async () => {
    await vrun(async () => {
      const lock = new Lock();
      const cond = new Condition(lock);
      expect(cond.locked()).toBe(false);
      await cond.withLock(() => {
        expect(lock.locked()).toBe(true);
        expect(cond.locked()).toBe(true);
      });
      expect(lock.locked()).toBe(false);
      await lock.withLock(() => {
        expect(cond.locked()).toBe(true);
      });
      {
        await using _held = await cond.lock();
        expect(lock.locked()).toBe(true);
      }
      expect(cond.locked()).toBe(false);
      expect(() => new Condition({} as Lock)).toThrow(TypeError);
      expect(() => new Condition({} as Lock)).toThrow(/"lock" must be a Lock/);
      expect("then" in cond).toBe(false);
    });
  });

  it("a timeout around wait() holds the lock again and leaves no waiter (test_timeout_in_block)", async () => {
    await vrun(async () => {
      const cond = new Condition();
      await cond.withLock(async () => {
        expect(await errorOf(waitFor(() => cond.wait(), 500))).toBeInstanceOf(TimeoutError);
        expect(cond.locked()).toBe(true);
      });
      expect(cond.statistics().tasksWaiting).toBe(0);
      expect(cond.locked()).toBe(false);
    });
  });

  it("statistics() and toString()", async () => {
    await vrun(async () => {
      const cond = new Condition();
      expect(String(cond)).toBe("<Condition [unlocked]>");
      const t = createTask(() => cond.withLock(() => cond.wait()));
      await ticks(1);
      expect(cond.statistics()).toMatchObject({ tasksWaiting: 1, lock: { locked: false } });
      expect(String(cond)).toBe("<Condition [unlocked, waiters:1]>");
      await cond.withLock(() => cond.notifyAll());
      await t;
      expect(cond.statistics().tasksWaiting).toBe(0);
    });
  });
});

function isCancel(error: unknown): boolean {
  return error instanceof CancelledError;
}

describe("Condition: properties", () => {
  test.prop(
    [
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 30 }), victim: fc.nat() }), {
        maxLength: 4,
      }),
    ],
    { numRuns: 100 },
  )(
    "no notification is lost: every produced unit is consumed by a surviving consumer",
    async (consumers, produceAt, cancels) => {
      await vrun(async () => {
        const cond = new Condition();
        let units = 0;
        let consumed = 0;
        let stop = false;
        const tasks = Array.from({ length: consumers }, () =>
          createTask(() =>
            cond.withLock(async () => {
              for (;;) {
                await cond.waitFor(() => units > 0 || stop);
                if (units > 0) {
                  units--;
                  consumed++;
                } else return;
              }
            }),
          ),
        );
        const loop = getRunningLoop();
        for (const c of cancels) {
          loop.callLater(c.at, () => tasks[c.victim % tasks.length]?.cancel());
        }
        for (const at of produceAt) {
          loop.callLater(at, () => {
            createTask(() =>
              cond.withLock(() => {
                units++;
                cond.notify(1);
              }),
            );
          });
        }
        await sleep(40);
        const survivors = tasks.filter((t) => !t.done());
        if (survivors.length > 0) expect(units).toBe(0); // nothing left while someone could take it
        await cond.withLock(() => {
          stop = true;
          cond.notifyAll();
        });
        for (const t of tasks) {
          try {
            await t;
          } catch (error) {
            if (!(error instanceof CancelledError)) throw error;
          }
        }
        expect(consumed + units).toBe(produceAt.length);
        expect(cond.locked()).toBe(false);
        expect(cond.statistics().tasksWaiting).toBe(0);
      });
    },
  );
});
