import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  BoundedSemaphore,
  CancelledError,
  createTask,
  gather,
  getRunningLoop,
  Semaphore,
  sleep,
  type Task,
  TimeoutError,
  taskGroup,
  timeout,
  waitFor,
} from "../src/index.ts";
import { ticks, vrun } from "./helpers/run.ts";
import { errorOf, expectThrows } from "./helpers/sync.ts";

describe("Semaphore: asyncio cases", () => {
  it("SEM (test_acquire): value 3, two taken; a release hands permits to waiters in turn", async () => {
    await vrun(async () => {
      const sem = new Semaphore(3);
      const result: number[] = [];
      expect(await sem.acquire()).toBe(true);
      expect(await sem.acquire()).toBe(true);
      expect(sem.locked()).toBe(false);
      const c = (n: number) => async () => {
        await sem.acquire();
        result.push(n);
        return true;
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      const t3 = createTask(c(3));
      await ticks(1);
      expect(result).toEqual([1]);
      expect(sem.locked()).toBe(true);
      expect(sem.statistics()).toEqual({ value: 0, tasksWaiting: 2 });

      const t4 = createTask(c(4));
      sem.release();
      sem.release();
      expect(sem.statistics().value).toBe(0);
      await ticks(1);
      expect(sem.statistics().value).toBe(0);
      expect(result).toHaveLength(3);
      expect(sem.locked()).toBe(true);
      expect(sem.statistics().tasksWaiting).toBe(1);
      expect(t1.result()).toBe(true);
      expect([t2, t3, t4].filter((t) => t.done())).toHaveLength(2);
      sem.release();
      await gather(t2, t3, t4);
    });
  });

  it("SEM-03: a cancelled acquire() raises CancelledError and leaves no pending waiter", async () => {
    await vrun(async () => {
      const sem = new Semaphore();
      await sem.acquire();
      const acquire = createTask(() => sem.acquire());
      getRunningLoop().callSoon(() => acquire.cancel());
      expect(await errorOf(acquire)).toBeInstanceOf(CancelledError);
      expect(sem.statistics().tasksWaiting).toBe(0);

      const queued = createTask(() => sem.acquire());
      await ticks(1);
      expect(sem.statistics().tasksWaiting).toBe(1);
      queued.cancel();
      expect(await errorOf(queued)).toBeInstanceOf(CancelledError);
      expect(sem.statistics()).toEqual({ value: 0, tasksWaiting: 0 });
    });
  });

  it("SEM-04: waiters cancelled before being woken are skipped, in FIFO order", async () => {
    await vrun(async () => {
      const sem = new Semaphore(0);
      const [t1, t2, t3, t4] = [1, 2, 3, 4].map(() => createTask(() => sem.acquire())) as [
        Task<true>,
        Task<true>,
        Task<true>,
        Task<true>,
      ];
      await ticks(1);
      t1.cancel();
      t2.cancel();
      sem.release();
      await ticks(2);
      expect([t3, t4].filter((t) => t.done())).toHaveLength(1);
      expect(t3.done()).toBe(true);
      expect(t4.done()).toBe(false);
      t3.cancel();
      t4.cancel();
      await ticks(1);
      expect(t4.cancelled()).toBe(true);
    });
  });

  it("SEM-05: cancel the first of two waiters, release: the second gets the permit", async () => {
    await vrun(async () => {
      const sem = new Semaphore(0);
      const t1 = createTask(() => sem.acquire());
      const t2 = createTask(() => sem.acquire());
      await ticks(1);
      t1.cancel();
      sem.release();
      await ticks(2);
      expect(sem.locked()).toBe(true);
      expect(t2.done()).toBe(true);
      expect(sem.statistics().value).toBe(0);
    });
  });

  it("SEM-06 [CORE]: a waiter cancelled after it was woken gives its permit back", async () => {
    await vrun(async () => {
      const sem = new Semaphore(1);
      let t2: Task<void> | undefined;
      const t1 = createTask(async () => {
        await sem.withPermit(() => sleep(0));
        t2?.cancel();
      });
      t2 = createTask(async () => {
        await sem.withPermit(() => {
          throw new Error("must not run");
        });
      });
      const [r1, r2] = await gather([t1, t2], { returnExceptions: true });
      expect(r1).toBeUndefined();
      expect(r2).toBeInstanceOf(CancelledError);
      expect(await waitFor(sem.acquire(), 1000)).toBe(true);

      // Variant: Semaphore(0), a and b waiting, release() then a.cancel(): b acquires.
      const sem0 = new Semaphore(0);
      const a = createTask(() => sem0.acquire());
      const b = createTask(() => sem0.acquire());
      await ticks(1);
      sem0.release(); // a is chosen
      a.cancel(); // ... but cancelled before it runs
      expect(await errorOf(a)).toBeInstanceOf(CancelledError);
      expect(await b).toBe(true);
      expect(sem0.statistics()).toEqual({ value: 0, tasksWaiting: 0 });
    });
  });

  it("SEM-07: BoundedSemaphore refuses an extra release; acquire then release unlocks", async () => {
    await vrun(async () => {
      const bounded = new BoundedSemaphore();
      expectThrows(() => bounded.release(), RangeError, "BoundedSemaphore released too many times");
      const sem = new Semaphore();
      await sem.acquire();
      expect(sem.locked()).toBe(true);
      sem.release();
      expect(sem.locked()).toBe(false);
      await bounded.acquire();
      bounded.release();
      expect(() => bounded.release()).toThrow(RangeError);
      expect(bounded.statistics()).toEqual({ value: 1, tasksWaiting: 0, bound: 1 });
    });
  });

  it("SEM-08 [CORE]: FIFO order across repeated acquire/release in a task group", async () => {
    const result = await vrun(async () => {
      const sem = new Semaphore(1);
      const result: string[] = [];
      const coro = async (tag: string): Promise<void> => {
        await sem.acquire();
        result.push(`${tag}_1`);
        await sleep(10);
        sem.release();
        await sem.acquire();
        result.push(`${tag}_2`);
        await sleep(10);
        sem.release();
      };
      await taskGroup(async (tg) => {
        tg.createTask(() => coro("c1"));
        tg.createTask(() => coro("c2"));
        tg.createTask(() => coro("c3"));
      });
      return result;
    });
    expect(result).toEqual(["c1_1", "c2_1", "c3_1", "c1_2", "c2_2", "c3_2"]);
  });

  it("SEM-09: a releaser re-acquiring queues behind earlier waiters; cancelled waiters are skipped", async () => {
    await vrun(async () => {
      const sem = new Semaphore(1);
      const result: number[] = [];
      const t1 = createTask(async () => {
        await sem.acquire();
        result.push(1);
        return true;
      });
      const t2 = createTask(async () => {
        await sem.acquire();
        result.push(2);
        sem.release();
        await sem.acquire();
        result.push(4);
        return true;
      });
      const t3 = createTask(async () => {
        await sem.acquire();
        result.push(3);
        return true;
      });
      await ticks(1);
      sem.release();
      sem.release();
      await gather(t1, t2, t3);
      expect(result).toEqual([1, 2, 3, 4]);

      const sem0 = new Semaphore(0);
      const result0: number[] = [];
      const tasks = [1, 2, 3].map((n) =>
        createTask(async () => {
          await sem0.acquire();
          result0.push(n);
          return true;
        }),
      );
      await ticks(1);
      tasks[0]?.cancel();
      await ticks(1);
      sem0.release();
      sem0.release();
      await gather(tasks, { returnExceptions: true });
      expect(result0).toEqual([2, 3]);
    });
  });

  it("SEM (test_acquire_fifo_order_4): one acquire wakes every waiter the value allows", async () => {
    await vrun(async () => {
      const sem = new Semaphore(0);
      const result: number[] = [];
      let t4: Task<boolean> | undefined;
      const c4 = async (): Promise<boolean> => {
        result.push(4);
        return true;
      };
      const t1 = createTask(async () => {
        expect(sem.statistics().value).toBe(0);
        await sem.acquire();
        expect(sem.statistics().value).toBe(0);
        t4 = createTask(c4);
        result.push(1);
        return true;
      });
      const t2 = createTask(async () => {
        sem.release();
        sem.release();
        sem.release();
        expect(sem.statistics().value).toBe(2);
        expect(sem.locked()).toBe(true); // t1 has not woken up yet
        await sem.acquire();
        result.push(2);
        return true;
      });
      const t3 = createTask(async () => {
        await sem.acquire();
        expect(sem.locked()).toBe(true);
        result.push(3);
        return true;
      });
      await ticks(1);
      expect(sem.statistics()).toEqual({ value: 2, tasksWaiting: 3 });
      await ticks(1);
      await gather(t1, t2, t3, t4 as Task<boolean>);
      expect(result).toEqual([1, 2, 3, 4]);
    });
  });
});

describe("Semaphore: API", () => {
  it("rejects a bad initial value, naming it", () => {
    expectThrows(() => new Semaphore(-1), RangeError, '"value"', "-1 (number)");
    expectThrows(() => new Semaphore(1.5), RangeError, "an integer >= 0", "1.5");
    expectThrows(() => new Semaphore("1" as never), TypeError, '"value"', '"1" (string)');
    expectThrows(() => new BoundedSemaphore(Number.NaN), RangeError, "new BoundedSemaphore()");
    expect(new Semaphore(0).locked()).toBe(true);
  });

  it("withPermit and permit() release however the body ends; not thenable", async () => {
    await vrun(async () => {
      const sem = new BoundedSemaphore(2);
      expect("then" in sem).toBe(false);
      expect(await sem.withPermit(() => sem.statistics().value)).toBe(1);
      const boom = new Error("boom");
      expect(
        await errorOf(
          sem.withPermit(async () => {
            await sleep(1);
            throw boom;
          }),
        ),
      ).toBe(boom);
      {
        await using _a = await sem.permit();
        await using _b = await sem.permit();
        expect(sem.locked()).toBe(true);
      }
      expect(sem.statistics().value).toBe(2);
      expect(() => sem.withPermit(null as never)).toThrow(TypeError);
    });
  });

  it("statistics() and toString() as asyncio's repr", async () => {
    await vrun(async () => {
      const sem = new Semaphore();
      expect(String(sem)).toBe("<Semaphore [unlocked, value:1]>");
      await sem.acquire();
      expect(String(sem)).toBe("<Semaphore [locked]>");
      const t = createTask(() => sem.acquire());
      await ticks(1);
      expect(String(sem)).toBe("<Semaphore [locked, waiters:1]>");
      sem.release();
      await t;
      expect(sem.statistics()).toEqual({ value: 0, tasksWaiting: 0 });
      expect(String(new BoundedSemaphore(3))).toBe("<BoundedSemaphore [unlocked, value:3]>");
    });
  });
});

describe("Semaphore: properties", () => {
  test.prop(
    [
      fc.integer({ min: 1, max: 3 }),
      fc.array(
        fc.record({
          start: fc.integer({ min: 0, max: 10 }),
          hold: fc.integer({ min: 0, max: 5 }),
          limit: fc.option(fc.integer({ min: 0, max: 10 })),
          times: fc.integer({ min: 1, max: 3 }),
        }),
        { minLength: 1, maxLength: 12 },
      ),
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 30 }), victim: fc.nat() }), {
        maxLength: 5,
      }),
    ],
    { numRuns: 100 },
  )(
    "never more holders than permits, and every permit comes back (bounded: no over-release)",
    async (permits, workers, cancels) => {
      await vrun(async () => {
        const sem = new BoundedSemaphore(permits);
        let holders = 0;
        let maxHolders = 0;
        const tasks = workers.map((w) =>
          createTask(async () => {
            await sleep(w.start);
            for (let i = 0; i < w.times; i++) {
              const body = (): Promise<void> =>
                sem.withPermit(async () => {
                  holders++;
                  maxHolders = Math.max(maxHolders, holders);
                  try {
                    await sleep(w.hold);
                  } finally {
                    holders--;
                  }
                });
              try {
                if (w.limit === null) await body();
                else await timeout(w.limit, body);
              } catch (error) {
                if (!(error instanceof TimeoutError)) throw error;
              }
            }
          }),
        );
        for (const c of cancels) {
          getRunningLoop().callLater(c.at, () => tasks[c.victim % tasks.length]?.cancel());
        }
        for (const t of tasks) {
          try {
            await t;
          } catch (error) {
            if (!(error instanceof CancelledError)) throw error;
          }
        }
        expect(maxHolders).toBeLessThanOrEqual(permits);
        expect(sem.statistics()).toEqual({ value: permits, tasksWaiting: 0, bound: permits });
      });
    },
  );
});
