import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  currentTask,
  type Future,
  getRunningLoop,
  Lock,
  RuntimeError,
  sleep,
  type Task,
  TimeoutError,
  timeout,
} from "../src/index.ts";
import { ticks, vrun } from "./helpers/run.ts";
import { errorOf, expectThrows } from "./helpers/sync.ts";

describe("Lock: asyncio cases", () => {
  it("LOCK-02 [CORE]: waiters acquire in strict FIFO order, one per release (ticks)", async () => {
    await vrun(async () => {
      const lock = new Lock();
      const result: number[] = [];
      expect(await lock.acquire()).toBe(true);
      const c = (n: number) => async () => {
        if (await lock.acquire()) result.push(n);
        return true;
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      await ticks(1);
      expect(result).toEqual([]);

      lock.release();
      await ticks(1);
      expect(result).toEqual([1]);
      await ticks(1);
      expect(result).toEqual([1]);

      const t3 = createTask(c(3));
      lock.release();
      await ticks(1);
      expect(result).toEqual([1, 2]);

      lock.release();
      await ticks(1);
      expect(result).toEqual([1, 2, 3]);
      for (const t of [t1, t2, t3]) {
        expect(t.done()).toBe(true);
        expect(t.result()).toBe(true);
      }
    });
  });

  it("LOCK-03: a task cancelled in acquire() raises CancelledError and leaves no waiter", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const task = createTask(() => lock.acquire());
      getRunningLoop().callSoon(() => task.cancel());
      expect(await errorOf(task)).toBeInstanceOf(CancelledError);
      expect(lock.statistics().tasksWaiting).toBe(0);

      // The same once the task is surely queued.
      const queued = createTask(() => lock.acquire());
      await ticks(1);
      expect(lock.statistics().tasksWaiting).toBe(1);
      queued.cancel();
      expect(await errorOf(queued)).toBeInstanceOf(CancelledError);
      expect(lock.statistics().tasksWaiting).toBe(0);
      expect(lock.locked()).toBe(true);
    });
  });

  it("LOCK-04: a release racing a waiter's cancellation moves on to the next waiter", async () => {
    await vrun(async () => {
      const lock = new Lock();
      const loop = getRunningLoop();
      async function lockit(blocker?: Future<void>): Promise<void> {
        await lock.acquire();
        try {
          if (blocker !== undefined) await blocker;
        } finally {
          lock.release();
        }
      }
      const fa = loop.createFuture<void>();
      const ta = createTask(() => lockit(fa));
      await ticks(1);
      expect(lock.locked()).toBe(true);
      const tb = createTask(() => lockit());
      await ticks(1);
      expect(lock.statistics().tasksWaiting).toBe(1);
      const tc = createTask(() => lockit());
      await ticks(1);
      expect(lock.statistics().tasksWaiting).toBe(2);

      fa.setResult(undefined);
      tb.cancel();
      await ticks(1);
      expect(lock.locked()).toBe(false);
      expect(ta.done()).toBe(true);
      expect(tb.cancelled()).toBe(true);
      await tc;
      expect(lock.locked()).toBe(false);
    });
  });

  it("LOCK-05: cancel one waiter and release in one callback: exactly one acquisition", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const lock = new Lock();
      let lockCount = 0;
      let callCount = 0;
      async function lockit(): Promise<void> {
        callCount++;
        await lock.acquire();
        lockCount++;
      }
      await lock.acquire();
      const t1 = createTask(lockit);
      const t2 = createTask(lockit);
      const t3 = createTask(lockit);
      await ticks(1);
      loop.callSoon(() => {
        t1.cancel();
        lock.release();
      });
      expect(await errorOf(t1)).toBeInstanceOf(CancelledError);
      expect(lockCount).toBe(1);
      expect(callCount).toBe(3);
      expect(t1.cancelled()).toBe(true);
      expect(t2.done()).toBe(true);
      expect(t3.done()).toBe(false);

      t3.cancel();
      await ticks(1);
      expect(t3.cancelled()).toBe(true);
    });
  });

  it("LOCK-06 [CORE]: a cancelled waiter never loses the hand-off", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const tb = createTask(() => lock.acquire());
      await ticks(1);
      expect(lock.statistics().tasksWaiting).toBe(1);
      // A second waiter that has not run yet; cancel the first, then release.
      const tc = createTask(() => lock.acquire());
      tb.cancel();
      lock.release();
      await ticks(1);
      expect(lock.locked()).toBe(true);
      expect(tb.cancelled()).toBe(true);
      await tc;
      lock.release();
    });
  });

  it("LOCK-06 (variant): release hands the lock to B, B is cancelled before it runs, C gets it", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const order: string[] = [];
      const tb = createTask(async () => {
        await lock.acquire();
        order.push("B");
      });
      const tc = createTask(async () => {
        await lock.acquire();
        order.push("C");
      });
      await ticks(1);
      expect(lock.statistics().tasksWaiting).toBe(2);
      lock.release(); // B's future is resolved: B has been chosen
      tb.cancel(); // ... but is cancelled before it runs
      expect(await errorOf(tb)).toBeInstanceOf(CancelledError);
      await tc;
      expect(order).toEqual(["C"]);
      expect(lock.locked()).toBe(true);
      expect(lock.statistics().owner).toBe(tc);
      expect(lock.statistics().tasksWaiting).toBe(0);
    });
  });

  it("LOCK-09: with every waiter cancelled, acquire() takes the fast path", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      const t = createTask(() => lock.acquire());
      await ticks(1);
      t.cancel(); // its future is cancelled, but t has not run yet: it is still queued
      expect(lock.statistics().tasksWaiting).toBe(1);
      lock.release();
      let acquired = false;
      void lock.acquire().then(() => {
        acquired = true;
      });
      expect(lock.locked()).toBe(true); // taken synchronously, no suspension
      await Promise.resolve();
      expect(acquired).toBe(true);
      expect(await errorOf(t)).toBeInstanceOf(CancelledError);
      expect(lock.locked()).toBe(true);
    });
  });
});

describe("Lock: API", () => {
  it("release() of an unlocked lock is a RuntimeError", async () => {
    await vrun(async () => {
      const lock = new Lock();
      expectThrows(() => lock.release(), RuntimeError, "Lock is not acquired");
      await lock.acquire();
      lock.release();
      expect(lock.locked()).toBe(false);
      expectThrows(() => lock.release(), RuntimeError, "Lock is not acquired");
    });
  });

  it("is not thenable: awaiting it returns the lock itself and acquires nothing", async () => {
    await vrun(async () => {
      const lock = new Lock();
      expect("then" in lock).toBe(false);
      expect(await (lock as unknown as Promise<unknown>)).toBe(lock);
      expect(lock.locked()).toBe(false);
    });
  });

  it("withLock runs the function holding the lock and releases it on return and on throw", async () => {
    await vrun(async () => {
      const lock = new Lock();
      const value = await lock.withLock(async () => {
        expect(lock.locked()).toBe(true);
        await sleep(1);
        return 42;
      });
      expect(value).toBe(42);
      expect(lock.locked()).toBe(false);
      const boom = new Error("boom");
      expect(
        await errorOf(
          lock.withLock(() => {
            throw boom;
          }),
        ),
      ).toBe(boom);
      expect(lock.locked()).toBe(false);
      expect(() => lock.withLock(42 as never)).toThrow(TypeError);
      expect(() => lock.withLock(42 as never)).toThrow(/"fn" must be a function, got 42/);
    });
  });

  it("await using releases at the end of the block; a Guard releases once", async () => {
    await vrun(async () => {
      const lock = new Lock();
      {
        await using held = await lock.lock();
        expect(lock.locked()).toBe(true);
        expect(held.released).toBe(false);
      }
      expect(lock.locked()).toBe(false);
      let thrown: unknown;
      try {
        await using _held = await lock.lock();
        throw new Error("inside");
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error).message).toBe("inside");
      expect(lock.locked()).toBe(false);
      {
        using held = await lock.lock();
        held.release();
        expect(lock.locked()).toBe(false);
        await lock.acquire(); // someone else's hold: the guard must not release it
      }
      expect(lock.locked()).toBe(true);
      lock.release();
    });
  });

  it("statistics() reports the owner task and the waiting tasks; toString() as asyncio's repr", async () => {
    await vrun(async () => {
      const lock = new Lock();
      expect(lock.statistics()).toEqual({ locked: false, owner: undefined, tasksWaiting: 0 });
      expect(String(lock)).toBe("<Lock [unlocked]>");
      await lock.acquire();
      expect(lock.statistics().owner).toBe(currentTask());
      const waiter = createTask(() => lock.acquire());
      await ticks(1);
      expect(lock.statistics()).toMatchObject({ locked: true, tasksWaiting: 1 });
      expect(String(lock)).toBe("<Lock [locked, waiters:1]>");
      lock.release();
      await waiter;
      expect(lock.statistics()).toEqual({ locked: true, owner: waiter, tasksWaiting: 0 });
    });
  });

  it("a timeout around acquire() leaves the lock consistent", async () => {
    await vrun(async () => {
      const lock = new Lock();
      await lock.acquire();
      expect(await errorOf(timeout(10, () => lock.acquire()))).toBeInstanceOf(TimeoutError);
      expect(lock.statistics().tasksWaiting).toBe(0);
      lock.release();
      expect(lock.locked()).toBe(false);
    });
  });

  it("is bound to the loop it first waits on", async () => {
    const lock = new Lock();
    await vrun(async () => {
      await lock.acquire();
      const t = createTask(() => lock.acquire());
      await ticks(1);
      lock.release();
      await t;
    });
    await vrun(async () => {
      // Held (by the finished task): acquiring must wait, and the loop is another one.
      const error = await errorOf(lock.acquire());
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toContain("is bound to a different event loop");
    });
  });
});

describe("Lock: properties", () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant("hold" as const), ms: fc.integer({ min: 0, max: 5 }) }),
    fc.record({
      kind: fc.constant("timeout" as const),
      ms: fc.integer({ min: 0, max: 8 }),
      hold: fc.integer({ min: 0, max: 5 }),
    }),
  );

  test.prop(
    [
      fc.array(fc.record({ start: fc.integer({ min: 0, max: 10 }), op }), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 20 }), victim: fc.nat() }), {
        maxLength: 4,
      }),
    ],
    { numRuns: 100 },
  )(
    "mutual exclusion, FIFO among waiters, and the lock ends free with nobody waiting",
    async (workers, cancels) => {
      await vrun(async () => {
        const lock = new Lock();
        let inside = 0;
        let maxInside = 0;
        const queuedOrder: number[] = [];
        const acquiredOrder: number[] = [];
        const tasks: Task<unknown>[] = [];
        const body = async (id: number, w: (typeof workers)[number]): Promise<void> => {
          await sleep(w.start);
          const critical = async (hold: number): Promise<void> => {
            acquiredOrder.push(id);
            inside++;
            maxInside = Math.max(maxInside, inside);
            try {
              await sleep(hold);
            } finally {
              inside--;
            }
          };
          queuedOrder.push(id);
          if (w.op.kind === "hold") {
            const hold = w.op.ms;
            await lock.withLock(() => critical(hold));
          } else {
            const hold = w.op.hold;
            try {
              await timeout(w.op.ms, () => lock.withLock(() => critical(hold)));
            } catch (error) {
              if (!(error instanceof TimeoutError)) throw error;
            }
          }
        };
        workers.forEach((w, id) => {
          tasks.push(createTask(() => body(id, w)));
        });
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
        expect(maxInside).toBeLessThanOrEqual(1);
        expect(lock.locked()).toBe(false);
        expect(lock.statistics().tasksWaiting).toBe(0);
        // FIFO: the acquisitions are a subsequence of the queueing order.
        let k = 0;
        for (const id of queuedOrder) if (acquiredOrder[k] === id) k++;
        expect(k).toBe(acquiredOrder.length);
      });
    },
  );
});
