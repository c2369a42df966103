/**
 * LOOP cases (asyncio-behaviour-cases.md): event-loop scheduling and error handling.
 * Sources: CPython test_base_events.py, test_tasks.py (SleepTests), test_runners.py.
 */
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  getRunningLoop,
  Runner,
  RuntimeError,
  run,
  sleep,
  TimerHandle,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { errorOf, expectArgError } from "../helpers/asyncio-cases.ts";
import { now, ticks, vrun, withHandlerLog } from "../helpers/run.ts";

/** A virtual clock that records every deadline the loop hands it when going idle. */
class SpyClock extends VirtualClock {
  readonly deadlines: (number | null)[] = [];
  override idle(deadline: number | null, wake: () => void): void {
    this.deadlines.push(deadline);
    super.idle(deadline, wake);
  }
}

describe("LOOP: scheduling", () => {
  it("LOOP-01 [CORE]: callSoon is FIFO and timers become ready after the callbacks already queued", async () => {
    const order = await vrun(async () => {
      const order: string[] = [];
      const loop = getRunningLoop();
      loop.callSoon(() => {
        order.push("a");
        // Scheduled during the iteration: runs in the next one, after the timer.
        loop.callSoon(() => order.push("d"));
      });
      loop.callLater(0, () => order.push("b"));
      loop.callSoon(() => order.push("c"));
      expect(order).toEqual([]); // nothing runs synchronously
      await ticks(1);
      // The iteration's ready queue is [a, c, <this task's step>, b], as asyncio's: the due
      // timer is appended after what was already queued, so this task resumes before b runs.
      expect(order).toEqual(["a", "c"]);
      await ticks(1);
      return order;
    });
    expect(order).toEqual(["a", "c", "b", "d"]);
  });

  it("LOOP-03: negative delays run at once, the earliest deadline first; a null delay is a TypeError", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const calls: string[] = [];
      const cb = (x: string): void => {
        calls.push(x);
      };
      const ha = loop.callLater(-1, cb, "a");
      const hb = loop.callLater(-2, cb, "b");
      expect(ha).toBeInstanceOf(TimerHandle);
      expect(ha.when()).toBe(now() - 1);
      expect(hb.when()).toBe(now() - 2);
      await ticks(1);
      // This task's wake-up was queued before the iteration moved the due timers after it.
      expect(calls).toEqual([]);
      await ticks(1);
      expect(calls).toEqual(["b", "a"]);
      expect(now()).toBe(0);
      expectArgError(() => loop.callLater(null as never, cb, "c"), TypeError, '"delay"', "null");
      expectArgError(() => loop.callAt(null as never, cb, "c"), TypeError, '"when"', "null");
      await ticks(1);
      expect(calls).toEqual(["b", "a"]);
    });
  });

  it("LOOP-03 (virtual time): callLater and callAt fire at exactly their deadline, in deadline order", async () => {
    const fired = await vrun(async () => {
      const loop = getRunningLoop();
      const fired: [string, number][] = [];
      loop.callLater(300, () => fired.push(["later300", now()]));
      const h = loop.callAt(loop.time() + 100, () => fired.push(["at100", now()]));
      expect(h.when()).toBe(100);
      loop.callLater(200, () => fired.push(["later200", now()]));
      await sleep(1000);
      return fired;
    });
    expect(fired).toEqual([
      ["at100", 100],
      ["later200", 200],
      ["later300", 300],
    ]);
  });

  it("LOOP-04 (deviation: no stop()/runForever()): the iteration in which main returns runs the callbacks already queued, once", async () => {
    let calls = 0;
    const result = await vrun(async () => {
      getRunningLoop().callSoon(() => {
        calls++;
      });
      return "main";
    });
    expect(result).toBe("main");
    expect(calls).toBe(1);
  });

  it("LOOP-05: a callback scheduled before sleep(0) runs during the yield; sleep returns its result", async () => {
    await vrun(async () => {
      const task = createTask(async () => {
        let counter = 0;
        getRunningLoop().callSoon((n: number) => {
          counter += n;
        }, 1);
        const before = counter;
        const n = await sleep(0, 10);
        return { before, after: counter, n };
      });
      expect(await task).toEqual({ before: 0, after: 1, n: 10 });
    });
  });

  it("LOOP-06: sleep(50) then sleep(50, 'yeah') returns 'yeah' after exactly 100 ms of virtual time", async () => {
    await vrun(async () => {
      const t0 = now();
      await sleep(50);
      expect(now()).toBe(t0 + 50);
      const x = await sleep(50, "yeah");
      expect(x).toBe("yeah");
      expect(now()).toBe(t0 + 100);
    });
  });

  it("LOOP-06: sleep(NaN) is a RangeError (asyncio: ValueError), sleep('1') a TypeError", async () => {
    expect.hasAssertions(); // the assertions are in expectArgError
    await vrun(async () => {
      expectArgError(() => sleep(Number.NaN), RangeError, "sleep()", '"ms"', "NaN");
      expectArgError(() => sleep("1" as never), TypeError, "sleep()", '"ms"', '"1" (string)');
      expectArgError(() => sleep(undefined as never), TypeError, '"ms"', "undefined");
    });
  });

  it("LOOP-06: cancelling a task blocked in sleep(10 s) also cancels the sleep's timer", async () => {
    const clock = new SpyClock();
    await vrun(
      async () => {
        const t = createTask(async () => {
          await sleep(10_000);
        });
        await ticks(2); // t is now blocked in its sleep
        clock.deadlines.length = 0;
        expect(t.cancel()).toBe(true);
        expect(await errorOf(t)).toBeInstanceOf(CancelledError);
        expect(now()).toBe(0);
        // The loop now idles: it must only know of this timer, not of the cancelled 10 s one.
        await sleep(20_000);
        expect(now()).toBe(20_000);
      },
      { clock },
    );
    expect(clock.deadlines).toContain(20_000);
    expect(clock.deadlines).not.toContain(10_000);
  });

  it("LOOP-09 (deviation: no loop.close(); Runner owns it): close is idempotent, a closed loop refuses work and never runs the function", async () => {
    const runner = new Runner({ clock: new VirtualClock(), handleSignals: false });
    expect(await runner.run(async () => 1)).toBe(1);
    const loop = runner.getLoop();
    expect(loop.isClosed()).toBe(false);
    await runner.close();
    await runner.close(); // again: no error
    expect(loop.isClosed()).toBe(true);
    expect(await errorOf(runner.run(async () => 2))).toBeInstanceOf(RuntimeError);
    let ran = false;
    const body = async (): Promise<void> => {
      ran = true;
    };
    expect(() => loop.createTask(body)).toThrow(RuntimeError);
    expect(() => loop.callSoon(() => {})).toThrow(RuntimeError);
    expect(() => loop.callLater(10, () => {})).toThrow(RuntimeError);
    expect(() => loop.callAt(10, () => {})).toThrow(RuntimeError);
    expect(ran).toBe(false);
  });

  it("LOOP-10 (deviation: no loop.stop()): a Runner run that ends leaves an unfinished task on the loop; a later run cancels it", async () => {
    const runner = new Runner({ clock: new VirtualClock(), handleSignals: false });
    let x = 0;
    const { t } = await runner.run(async () => {
      const t = createTask(async () => {
        for (;;) {
          await sleep(100);
          x++;
        }
      });
      await sleep(250); // t has woken twice
      return { t }; // wrapped: returning the task itself would await it
    });
    expect(x).toBe(2);
    expect(t.done()).toBe(false);
    const error = await runner.run(async () => {
      expect(t.cancel()).toBe(true);
      return errorOf(t);
    });
    expect(error).toBeInstanceOf(CancelledError);
    expect(t.cancelled()).toBe(true);
    expect(x).toBe(2);
    await runner.close();
  });

  it("LOOP-11: starting run() or Runner.run() inside a running loop is a RuntimeError and never runs main", async () => {
    let ran = false;
    const main = async (): Promise<number> => {
      ran = true;
      return 1;
    };
    await vrun(async () => {
      expect(await errorOf(run(main))).toBeInstanceOf(RuntimeError);
      const runner = new Runner({ handleSignals: false });
      expect(await errorOf(runner.run(main))).toBeInstanceOf(RuntimeError);
    });
    expect(ran).toBe(false);
  });

  it("LOOP-14: callSoon/callLater/callAt reject non-callables with a TypeError naming the argument, in debug mode and out of it", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      for (const debug of [true, false]) {
        loop.setDebug(debug);
        expect(loop.getDebug()).toBe(debug);
        expectArgError(() => loop.callSoon(1 as never), TypeError, "callSoon", '"callback"', "1");
        expectArgError(() => loop.callLater(10, 1 as never), TypeError, '"callback"', "1 (number)");
        expectArgError(() => loop.callAt(10, null as never), TypeError, '"callback"', "null");
      }
    });
  });

  it("LOOP-14 (arguments): bad delays, times and settings give TypeError/RangeError naming the argument and value", async () => {
    expect.hasAssertions(); // the assertions are in expectArgError
    await vrun(async () => {
      const loop = getRunningLoop();
      const f = (): void => {};
      expectArgError(() => loop.callLater("x" as never, f), TypeError, '"delay"', '"x" (string)');
      expectArgError(() => loop.callLater(Number.NaN, f), RangeError, '"delay"', "NaN");
      expectArgError(() => loop.callAt("5" as never, f), TypeError, '"when"', '"5" (string)');
      expectArgError(() => loop.callAt(Number.NaN, f), RangeError, '"when"', "NaN");
      expectArgError(() => loop.setDebug("yes" as never), TypeError, '"enabled"', '"yes"');
      expectArgError(() => loop.setExceptionHandler(5 as never), TypeError, '"handler"', "5");
      expectArgError(() => loop.createTask(5 as never), TypeError, '"fn"', "5 (number)");
    });
  });
});

describe("LOOP: handles and error handling", () => {
  it("LOOP-HANDLE: a cancelled Handle or TimerHandle never runs", async () => {
    const calls = await vrun(async () => {
      const loop = getRunningLoop();
      const calls: string[] = [];
      const h1 = loop.callSoon(() => calls.push("soon"));
      const h2 = loop.callLater(10, () => calls.push("later"));
      loop.callSoon(() => calls.push("kept"));
      h1.cancel();
      h2.cancel();
      expect(h1.cancelled()).toBe(true);
      expect(h2.cancelled()).toBe(true);
      await sleep(50);
      return calls;
    });
    expect(calls).toEqual(["kept"]);
  });

  it("LOOP-HANDLER: an error thrown by a callback goes to the exception handler and the loop keeps going", async () => {
    const boom = new Error("boom");
    const { result, log } = await withHandlerLog(async () => {
      const loop = getRunningLoop();
      const order: string[] = [];
      const handle = loop.callSoon(function failing() {
        throw boom;
      });
      loop.callSoon(() => order.push("next"));
      await ticks(2);
      return { order, handle };
    });
    expect(result.order).toEqual(["next"]);
    expect(log).toHaveLength(1);
    expect(log[0]?.exception).toBe(boom);
    expect(log[0]?.handle).toBe(result.handle);
    expect(String(log[0]?.message)).toMatch(/^Exception in callback/);
  });
});

describe("LOOP: a task that awaits a foreign promise never holds the loop up", () => {
  // With the system clock, an iteration that pauses on a task arms its fallback only when
  // something needs the loop during the pause. Here nothing else would wake the loop: each case
  // hangs (and times out) if the loop missed what needed it.
  type Loop = ReturnType<typeof getRunningLoop>;

  /** A task woken by an I/O-like event on an idle loop awaits a foreign promise; main waits. */
  async function pausedOnForeign(
    during: (loop: Loop, finish: (label: string) => void) => void,
  ): Promise<string[]> {
    const { StreamReader } = await import("../../src/streams/index.ts");
    const log: string[] = [];
    await run(async () => {
      const loop = getRunningLoop();
      const reader = new StreamReader();
      const finished = loop.createFuture<void>();
      const { promise: foreign, resolve: release } = Promise.withResolvers<void>();
      const waiting = createTask(async () => {
        await reader.read(1);
        log.push("read");
        during(loop, (label) => {
          log.push(label);
          finished.setResult();
        });
        await foreign;
        log.push("foreign");
      });
      await sleep(0); // `waiting` is parked in read(); main then waits on `finished` alone
      setImmediate(() => reader.feedData("x"));
      await finished;
      release();
      await waiting;
    });
    return log;
  }

  it("a callback scheduled during the pause runs", async () => {
    const log = await pausedOnForeign((loop, finish) => {
      loop.callSoon(() => finish("callSoon"));
    });
    expect(log).toEqual(["read", "callSoon", "foreign"]);
  });

  it("a timer added during the pause fires", async () => {
    const log = await pausedOnForeign((loop, finish) => {
      loop.callLater(1, () => finish("callLater"));
    });
    expect(log).toEqual(["read", "callLater", "foreign"]);
  });

  it("a timer armed before the pause fires", async () => {
    const { StreamReader } = await import("../../src/streams/index.ts");
    const log: string[] = [];
    await run(async () => {
      const reader = new StreamReader();
      const { promise: foreign, resolve: release } = Promise.withResolvers<void>();
      const waiting = createTask(async () => {
        await reader.read(1);
        log.push("read");
        await foreign;
        log.push("foreign");
      });
      await sleep(0);
      setImmediate(() => reader.feedData("x"));
      await sleep(20); // armed when the loop went idle, before the event
      log.push("sleep");
      release();
      await waiting;
    });
    expect(log).toEqual(["read", "sleep", "foreign"]);
  });
});
