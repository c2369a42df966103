import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  Barrier,
  BrokenBarrierError,
  CancelledError,
  createTask,
  gather,
  getRunningLoop,
  RuntimeError,
  sleep,
  type Task,
  wait,
} from "../src/index.ts";
import { ticks, vrun } from "./helpers/run.ts";
import { errorOf, expectThrows } from "./helpers/sync.ts";

const N = 5;

function spawn<T>(n: number, fn: () => Promise<T>): Task<T>[] {
  return Array.from({ length: n }, () => createTask(fn));
}

describe("Barrier: asyncio cases", () => {
  it("BAR-01: parties must be >= 1; not awaitable; the state shows in toString()", async () => {
    expectThrows(() => new Barrier(0), RangeError, '"parties"', "0 (number)");
    expectThrows(() => new Barrier(-4), RangeError, "an integer >= 1");
    expectThrows(() => new Barrier(1.5), RangeError, "1.5");
    expectThrows(() => new Barrier("3" as never), TypeError, '"parties"');
    await vrun(async () => {
      const barrier = new Barrier(N);
      expect("then" in barrier).toBe(false);
      expect(await (barrier as unknown as Promise<unknown>)).toBe(barrier);
      expect(String(barrier)).toBe(`<Barrier [filling, waiters:0/${N}]>`);

      // Tasks are started one per tick here: aiots runs the first steps of tasks started in the
      // same iteration interleaved (see the report on the start gate), asyncio one by one.
      const waiters: Task<number>[] = [];
      const arrive = async (): Promise<void> => {
        waiters.push(createTask(() => barrier.wait()));
        await ticks(1);
      };
      await arrive();
      await arrive();
      expect(String(barrier)).toBe(`<Barrier [filling, waiters:2/${N}]>`);
      while (waiters.length < N) await arrive();
      expect(String(barrier)).toBe(`<Barrier [draining, waiters:0/${N}]>`);
      await ticks(1);
      expect(String(barrier)).toBe(`<Barrier [filling, waiters:0/${N}]>`);
      await arrive();
      await arrive();
      await barrier.reset();
      expect(String(barrier)).toBe(`<Barrier [resetting, waiters:0/${N}]>`);
      await arrive();
      await arrive();
      await barrier.abort();
      expect(String(barrier)).toBe("<Barrier [broken]>");
      expect(barrier.broken).toBe(true);
      await gather(waiters, { returnExceptions: true });
    });
  });

  it("BAR-02: indices follow arrival order, the last arrival does not block and leaves first; reusable", async () => {
    await vrun(async () => {
      const barrier = new Barrier(3);
      for (let round = 0; round < 2; round++) {
        const results: number[] = [];
        const leaving: number[] = [];
        const tasks = spawn(3, async () => {
          const i = await barrier.wait();
          results.push(i);
          leaving.push(i);
          return i;
        });
        expect(await gather(tasks)).toEqual([0, 1, 2]);
        expect(leaving[0]).toBe(2); // the task that completed the set went on first
        expect([...results].sort((a, b) => a - b)).toEqual([0, 1, 2]);
        expect(barrier.nWaiting).toBe(0);
        expect(barrier.broken).toBe(false);
      }
    });
  });

  it("BAR-03: Barrier(1) passes at once, repeatedly; filling one task per tick", async () => {
    await vrun(async () => {
      const one = new Barrier(1);
      expect(await one.wait()).toBe(0);
      expect(one.nWaiting).toBe(0);
      const t1 = createTask(() => one.wait());
      await ticks(1);
      expect(one.nWaiting).toBe(0);
      const t2 = createTask(() => one.wait());
      await ticks(1);
      expect(t1.result()).toBe(t2.result());
      expect(t1.done()).toBe(t2.done());
      expect(one.broken).toBe(false);

      const barrier = new Barrier(3);
      const a = createTask(() => barrier.wait());
      await ticks(1);
      expect(barrier.nWaiting).toBe(1);
      expect(String(barrier)).toContain("filling");
      const b = createTask(() => barrier.wait());
      await ticks(1);
      expect(barrier.nWaiting).toBe(2);
      const c = createTask(() => barrier.wait());
      await ticks(1);
      await wait([a, b, c]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("BAR-04: waiting twice in a row works; tasks arriving while draining wait for the next cycle", async () => {
    await vrun(async () => {
      const barrier = new Barrier(N);
      const results: boolean[] = [];
      await gather(
        spawn(N, async () => {
          await barrier.wait();
          results.push(true);
          await barrier.wait();
          results.push(false);
        }),
      );
      expect(results.filter((r) => r)).toHaveLength(N);
      expect(results.filter((r) => !r)).toHaveLength(N);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);

      // test_filling_tasks_check_return_value
      const indices = await gather(
        spawn(N, async () => {
          await barrier.wait();
          return barrier.wait();
        }),
      );
      expect([...indices].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);

      // test_blocking_tasks_while_draining: success means barrierNoWaiting was waited for
      // exactly N - rewait times.
      const rewait = 2;
      const barrierNoWaiting = new Barrier(N - rewait);
      let rewaitN = rewait;
      await gather(
        spawn(N, async () => {
          await barrier.wait();
          if (rewaitN > 0) {
            rewaitN--;
            await barrier.wait();
          } else {
            await barrierNoWaiting.wait();
            await barrier.wait();
          }
        }),
      );
      expect(barrier.nWaiting).toBe(0);
    });
  });

  it("BAR-05: all but the last task leaving see draining; the last one sees filling", async () => {
    await vrun(async () => {
      const barrier = new Barrier(N);
      const results: boolean[] = [];
      await gather(
        spawn(N, async () => {
          await barrier.wait();
          results.push(String(barrier).includes("draining"));
        }),
      );
      expect(results).toEqual([true, true, true, true, false]);
      expect(barrier.statistics()).toEqual({ state: "filling", parties: N, nWaiting: 0 });
    });
  });

  it("BAR-06 [CORE]: cancelling a waiting task does not break the barrier", async () => {
    await vrun(async () => {
      const barrier = new Barrier(3);
      const results: boolean[] = [];
      const coro = async (): Promise<void> => {
        await barrier.wait();
        results.push(true);
      };
      const t1 = createTask(coro);
      await ticks(1);
      expect(barrier.nWaiting).toBe(1);
      const t2 = createTask(coro);
      await ticks(1);
      expect(barrier.nWaiting).toBe(2);
      t1.cancel();
      await ticks(1);
      expect(barrier.nWaiting).toBe(1);
      expect(await errorOf(t1)).toBeInstanceOf(CancelledError);
      expect(t1.cancelled()).toBe(true);
      const t3 = createTask(coro);
      await ticks(1);
      expect(barrier.nWaiting).toBe(2);
      const t4 = createTask(coro);
      await gather(t2, t3, t4);
      expect(results).toEqual([true, true, true]);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("BAR-07: reset() with nobody waiting", async () => {
    await vrun(async () => {
      const barrier = new Barrier(1);
      createTask(() => barrier.reset());
      await ticks(1);
      expect(barrier.nWaiting).toBe(0);
      expect(barrier.broken).toBe(false);
    });
  });

  it("BAR-08: reset() while tasks wait: they all raise BrokenBarrierError; the barrier is usable", async () => {
    await vrun(async () => {
      const barrier = new Barrier(N);
      const results: boolean[] = [];
      const errors: unknown[] = [];
      const tasks = spawn(N - 1, async () => {
        try {
          await barrier.wait();
        } catch (error) {
          if (!(error instanceof BrokenBarrierError)) throw error;
          errors.push(error);
          results.push(true);
        }
      });
      await ticks(1);
      createTask(() => barrier.reset());
      await gather(tasks);
      expect(results).toHaveLength(N - 1);
      for (const error of errors) expect(error).toBeInstanceOf(RuntimeError); // its base class
      expect(barrier.nWaiting).toBe(0);
      expect(String(barrier)).not.toContain("resetting");
      expect(barrier.broken).toBe(false);
    });
  });

  it("BAR (test_reset_barrier_when_tasks_half_draining): tasks still draining are not affected", async () => {
    await vrun(async () => {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const restOfTasks = Math.floor(N / 2);
      let count = 0;
      await gather(
        spawn(N, async () => {
          try {
            await barrier.wait();
          } catch (error) {
            if (!(error instanceof BrokenBarrierError)) throw error;
            results1.push(true);
            return;
          }
          // asyncio tests `barrier._count == rest_of_tasks`: the tasks still inside are the
          // ones that have not left yet.
          count++;
          if (count === N - restOfTasks) {
            await barrier.reset();
          }
        }),
      );
      expect(results1).toEqual(Array(restOfTasks).fill(true));
      expect(barrier.nWaiting).toBe(0);
      expect(String(barrier)).not.toContain("resetting");
      expect(barrier.broken).toBe(false);
    });
  });

  it("BAR (test_reset_barrier_when_tasks_half_draining_half_blocking): blocked re-waiters are reset", async () => {
    await vrun(async () => {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const blockingTasks = Math.floor(N / 2);
      let count = 0;
      await gather(
        spawn(N, async () => {
          try {
            await barrier.wait();
          } catch (error) {
            if (!(error instanceof BrokenBarrierError)) throw error;
            results1.push(true);
            await barrier.wait();
            return;
          }
          count++;
          if (count > blockingTasks) {
            await barrier.reset();
            await barrier.wait();
          } else {
            try {
              await barrier.wait();
            } catch (error) {
              if (!(error instanceof BrokenBarrierError)) throw error;
              results2.push(true);
            }
          }
        }),
      );
      expect(results1).toEqual(Array(blockingTasks).fill(true));
      expect(results2).toEqual([]);
      expect(barrier.nWaiting).toBe(0);
      expect(String(barrier)).not.toContain("resetting");
      expect(barrier.broken).toBe(false);
    });
  });

  it("BAR (test_reset_barrier_while_tasks_waiting_and_waiting_again / _draining)", async () => {
    await vrun(async () => {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const tasks = spawn(N - 1, async () => {
        try {
          await barrier.wait();
        } catch (error) {
          if (!(error instanceof BrokenBarrierError)) throw error;
          results1.push(true);
        } finally {
          await barrier.wait();
          results2.push(true);
        }
      });
      createTask(() => barrier.reset());
      await ticks(1);
      createTask(async () => {
        await barrier.wait();
        results2.push(true);
      });
      await gather(tasks);
      expect(barrier.broken).toBe(false);
      expect(results1).toHaveLength(N - 1);
      expect(results2).toHaveLength(N);
      expect(barrier.nWaiting).toBe(0);

      const barrier2 = new Barrier(N);
      const r1: boolean[] = [];
      const r2: boolean[] = [];
      const r3: boolean[] = [];
      let count = 0;
      await gather(
        spawn(N, async () => {
          await barrier2.wait();
          count++;
          if (count === N) {
            await barrier2.reset();
            await barrier2.wait();
          } else {
            try {
              await barrier2.wait();
              r1.push(true);
            } catch {
              r2.push(true);
            }
          }
          await barrier2.wait();
          r3.push(true);
        }),
      );
      expect(barrier2.broken).toBe(false);
      expect(r1).toHaveLength(N - 1);
      expect(r2).toHaveLength(0);
      expect(r3).toHaveLength(N);
      expect(barrier2.nWaiting).toBe(0);
    });
  });

  it("BAR-12: abort() breaks the barrier for current and later waiters until reset()", async () => {
    await vrun(async () => {
      const one = new Barrier(1);
      createTask(() => one.abort());
      await ticks(1);
      expect(one.nWaiting).toBe(0);
      expect(one.broken).toBe(true);

      const barrier = new Barrier(2);
      const waiter = createTask(() => barrier.wait());
      await ticks(1);
      await barrier.abort();
      const error = await errorOf(waiter);
      expect(error).toBeInstanceOf(BrokenBarrierError);
      const later = await errorOf(barrier.wait());
      expect(later).toBeInstanceOf(BrokenBarrierError);
      expect((later as Error).message).toBe("Barrier aborted");
      await barrier.reset();
      expect(barrier.broken).toBe(false);
      expect(await gather(barrier.wait(), barrier.wait())).toEqual([0, 1]);
    });
  });

  it("BAR-13: abort() while half the tasks drain and half wait again", async () => {
    await vrun(async () => {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      const blockingTasks = Math.floor(N / 2);
      let count = 0;
      await gather(
        spawn(N, async () => {
          try {
            await barrier.wait();
          } catch (error) {
            if (!(error instanceof BrokenBarrierError)) throw error;
            results1.push(true);
            return;
          }
          count++;
          if (count > blockingTasks) {
            await barrier.abort();
          } else {
            try {
              await barrier.wait();
            } catch (error) {
              if (!(error instanceof BrokenBarrierError)) throw error;
              results2.push(true);
            }
          }
        }),
      );
      expect(barrier.broken).toBe(true);
      expect(results1).toEqual(Array(blockingTasks).fill(true));
      expect(results2).toEqual(Array(N - blockingTasks - 1).fill(true));
      expect(barrier.nWaiting).toBe(0);
      expect(String(barrier)).not.toContain("resetting");
    });
  });

  it("BAR-14: a failing task aborts: everyone else gets BrokenBarrierError; reset() repairs it", async () => {
    await vrun(async () => {
      const barrier = new Barrier(N);
      const results1: boolean[] = [];
      const results2: boolean[] = [];
      await gather(
        spawn(N, async () => {
          try {
            const i = await barrier.wait();
            if (i === Math.floor(N / 2)) throw new RuntimeError("boom");
            await barrier.wait();
            results1.push(true);
          } catch (error) {
            if (error instanceof BrokenBarrierError) results2.push(true);
            else if (error instanceof RuntimeError) await barrier.abort();
            else throw error;
          }
        }),
      );
      expect(barrier.broken).toBe(true);
      expect(results1).toHaveLength(0);
      expect(results2).toHaveLength(N - 1);
      expect(barrier.nWaiting).toBe(0);

      // Variant: then synchronise on a second barrier, reset the first, and pass it again.
      const barrier1 = new Barrier(N);
      const barrier2 = new Barrier(N);
      const r1: boolean[] = [];
      const r2: boolean[] = [];
      const r3: boolean[] = [];
      await gather(
        spawn(N, async () => {
          try {
            const i = await barrier1.wait();
            if (i === Math.floor(N / 2)) throw new RuntimeError("boom");
            await barrier1.wait();
            r1.push(true);
          } catch (error) {
            if (error instanceof BrokenBarrierError) r2.push(true);
            else if (error instanceof RuntimeError) await barrier1.abort();
            else throw error;
          }
          const i = await barrier2.wait();
          if (i === Math.floor(N / 2)) await barrier1.reset();
          await barrier2.wait();
          await barrier1.wait();
          r3.push(true);
        }),
      );
      expect(barrier1.broken).toBe(false);
      expect(r1).toHaveLength(0);
      expect(r2).toHaveLength(N - 1);
      expect(r3).toHaveLength(N);
      expect(barrier1.nWaiting).toBe(0);
    });
  });
});

describe("Barrier: properties", () => {
  test.prop(
    [
      fc.integer({ min: 1, max: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.array(fc.record({ at: fc.integer({ min: 0, max: 20 }), victim: fc.nat() }), {
        maxLength: 3,
      }),
    ],
    { numRuns: 100 },
  )(
    "cycles of parties tasks pass together; cancelled waiters leave without breaking it",
    async (parties, rounds, cancels) => {
      await vrun(async () => {
        const barrier = new Barrier(parties);
        const passed: number[] = [];
        const tasks = Array.from({ length: parties * rounds }, (_, k) =>
          createTask(async () => {
            await sleep(k);
            const index = await barrier.wait();
            passed.push(index);
          }),
        );
        const loop = getRunningLoop();
        for (const c of cancels) {
          loop.callLater(c.at, () => tasks[c.victim % tasks.length]?.cancel());
        }
        await sleep(parties * rounds + 30);
        expect(barrier.broken).toBe(false);
        // Those blocked for lack of partners (after cancellations) are still waiting.
        const pending = tasks.filter((t) => !t.done()).length;
        expect(barrier.nWaiting).toBe(pending);
        expect(pending).toBeLessThan(parties);
        // Each completed cycle let `parties` tasks through, minus any cancelled while it drained
        // (they raise CancelledError, as in asyncio); the completer always passes.
        const cycles = passed.filter((i) => i === parties - 1).length;
        expect(passed.length).toBeLessThanOrEqual(cycles * parties);
        expect(passed.length).toBeGreaterThanOrEqual(cycles * parties - cancels.length);
        // (Indices are unique only without cancellations: as in asyncio, a task leaving lowers
        // the count, and the next arrival gets the same index again.)
        for (const t of tasks) t.cancel();
        await gather(tasks, { returnExceptions: true });
        expect(barrier.nWaiting).toBe(0);
        expect(barrier.statistics().state).toBe("filling");
      });
    },
  );
});
