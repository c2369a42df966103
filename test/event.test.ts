import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  Event,
  getRunningLoop,
  RuntimeError,
  sleep,
  type Task,
  TimeoutError,
  timeout,
} from "../src/index.ts";
import { ticks, vrun } from "./helpers/run.ts";
import { errorOf } from "./helpers/sync.ts";

describe("Event: asyncio cases", () => {
  it("EVT-02: wait() on a set event returns true without suspending; isSet follows set/clear", async () => {
    await vrun(async () => {
      const ev = new Event();
      expect(ev.isSet()).toBe(false);
      ev.set();
      expect(ev.isSet()).toBe(true);
      let iterationPassed = false;
      getRunningLoop().callSoon(() => {
        iterationPassed = true;
      });
      expect(await ev.wait()).toBe(true);
      expect(iterationPassed).toBe(false);
      ev.clear();
      expect(ev.isSet()).toBe(false);
    });
  });

  it("EVT-03: a cancelled waiter raises CancelledError and leaves no waiter behind", async () => {
    await vrun(async () => {
      const ev = new Event();
      const wait = createTask(() => ev.wait());
      getRunningLoop().callSoon(() => wait.cancel());
      expect(await errorOf(wait)).toBeInstanceOf(CancelledError);
      expect(ev.statistics().tasksWaiting).toBe(0);

      const queued = createTask(() => ev.wait());
      await ticks(1);
      expect(ev.statistics().tasksWaiting).toBe(1);
      queued.cancel();
      expect(await errorOf(queued)).toBeInstanceOf(CancelledError);
      expect(ev.statistics().tasksWaiting).toBe(0);
    });
  });

  it("EVT (test_wait): set() wakes every waiter; a task started meanwhile passes first (ticks)", async () => {
    await vrun(async () => {
      const ev = new Event();
      const result: number[] = [];
      const c = (n: number) => async () => {
        if (await ev.wait()) result.push(n);
      };
      const t1 = createTask(c(1));
      const t2 = createTask(c(2));
      await ticks(1);
      expect(result).toEqual([]);
      const t3 = createTask(c(3));
      ev.set();
      await ticks(1);
      expect(result).toEqual([3, 1, 2]);
      for (const t of [t1, t2, t3]) {
        expect(t.done()).toBe(true);
        expect(t.result()).toBeUndefined();
      }
    });
  });

  it("EVT (test_clear_with_waiters): a waiter woken by set() returns true even if clear() follows", async () => {
    await vrun(async () => {
      const ev = new Event();
      const result: number[] = [];
      const t = createTask(async () => {
        if (await ev.wait()) result.push(1);
        return true;
      });
      await ticks(1);
      expect(result).toEqual([]);
      ev.set();
      ev.clear();
      expect(ev.isSet()).toBe(false);
      ev.set();
      ev.set();
      expect(ev.statistics().tasksWaiting).toBe(1);
      await ticks(1);
      expect(result).toEqual([1]);
      expect(ev.statistics().tasksWaiting).toBe(0);
      expect(t.done()).toBe(true);
      expect(t.result()).toBe(true);
    });
  });
});

describe("Event: API", () => {
  it("is not thenable", async () => {
    await vrun(async () => {
      const ev = new Event();
      expect("then" in ev).toBe(false);
      expect(await (ev as unknown as Promise<unknown>)).toBe(ev);
    });
  });

  it("statistics() and toString()", async () => {
    await vrun(async () => {
      const ev = new Event();
      expect(ev.statistics()).toEqual({ isSet: false, tasksWaiting: 0 });
      expect(String(ev)).toBe("<Event [unset]>");
      const t = createTask(() => ev.wait());
      await ticks(1);
      expect(String(ev)).toBe("<Event [unset, waiters:1]>");
      ev.set();
      expect(ev.statistics()).toEqual({ isSet: true, tasksWaiting: 1 });
      await t;
      expect(String(ev)).toBe("<Event [set]>");
    });
  });

  it("a timeout around wait() removes the waiter", async () => {
    await vrun(async () => {
      const ev = new Event();
      expect(await errorOf(timeout(5, () => ev.wait()))).toBeInstanceOf(TimeoutError);
      expect(ev.statistics().tasksWaiting).toBe(0);
    });
  });

  it("waiting from another loop is a RuntimeError", async () => {
    const ev = new Event();
    await vrun(async () => {
      const t = createTask(() => ev.wait());
      await ticks(1);
      ev.set();
      await t;
      ev.clear();
    });
    await vrun(async () => {
      const error = await errorOf(ev.wait());
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toContain("is bound to a different event loop");
    });
  });
});

describe("Event: properties", () => {
  test.prop(
    [
      fc.array(
        fc.record({
          start: fc.integer({ min: 0, max: 20 }),
          limit: fc.option(fc.integer({ min: 0, max: 20 })),
        }),
        { minLength: 1, maxLength: 10 },
      ),
      fc.array(
        fc.record({ at: fc.integer({ min: 0, max: 25 }), set: fc.boolean(), victim: fc.nat() }),
        { maxLength: 6 },
      ),
    ],
    { numRuns: 100 },
  )(
    "every waiter returns true only after a set(), or ends cancelled or timed out; none is left",
    async (waiters, actions) => {
      await vrun(async () => {
        const loop = getRunningLoop();
        const ev = new Event();
        const setTimes: number[] = [];
        const tasks: Task<string>[] = waiters.map((w) =>
          createTask(async () => {
            await sleep(w.start);
            const began = loop.time();
            try {
              if (w.limit === null) await ev.wait();
              else await timeout(w.limit, () => ev.wait());
            } catch (error) {
              if (error instanceof TimeoutError) return "timeout";
              throw error;
            }
            // It was woken by a set() at or after it started waiting (or the flag was set).
            expect(ev.isSet() || setTimes.some((t) => t >= began)).toBe(true);
            return "woken";
          }),
        );
        for (const a of actions) {
          loop.callLater(a.at, () => {
            if (a.set) {
              ev.set();
              setTimes.push(loop.time());
            } else {
              ev.clear();
            }
            tasks[a.victim % tasks.length]?.cancel();
          });
        }
        await sleep(30);
        ev.set();
        for (const t of tasks) {
          try {
            expect(["woken", "timeout"]).toContain(await t);
          } catch (error) {
            if (!(error instanceof CancelledError)) throw error;
          }
        }
        expect(ev.statistics().tasksWaiting).toBe(0);
      });
    },
  );
});
