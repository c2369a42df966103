import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  comparePython,
  createTask,
  Event,
  getRunningLoop,
  LifoQueue,
  PriorityQueue,
  Queue,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  RuntimeError,
  sleep,
  type Task,
  TimeoutError,
  taskGroup,
  timeout,
  waitFor,
} from "../src/index.ts";
import { ticks, vrun } from "./helpers/run.ts";
import { errorOf, expectThrows } from "./helpers/sync.ts";

type AnyQueue = new (maxsize?: number) => Queue<unknown>;
const QUEUES: [string, AnyQueue][] = [
  ["Queue", Queue],
  ["LifoQueue", LifoQueue],
  ["PriorityQueue", PriorityQueue],
];

/** Await `aw` and return its result or the error class name. */
async function outcome(aw: PromiseLike<unknown>): Promise<unknown> {
  try {
    return await aw;
  } catch (error) {
    return (error as Error).name;
  }
}

describe("Queue: asyncio cases", () => {
  it("Q-02: a putter blocks on a full queue and resumes one tick after a get (ticks)", async () => {
    await vrun(async () => {
      const q = new Queue<number>(2);
      expect(q.maxsize).toBe(2);
      const havePut: number[] = [];
      const t = createTask(async () => {
        for (let i = 0; i < 3; i++) {
          await q.put(i);
          havePut.push(i);
        }
        return true;
      });
      await ticks(2);
      expect(havePut).toEqual([0, 1]);
      expect(await q.get()).toBe(0);
      await ticks(1);
      expect(havePut).toEqual([0, 1, 2]);
      expect(await q.get()).toBe(1);
      expect(await q.get()).toBe(2);
      expect(t.done()).toBe(true);
      expect(t.result()).toBe(true);
    });
  });

  it("Q-03: get() waits for a later put, put() for a later get; waiting getters receive puts", async () => {
    await vrun(async () => {
      const loop = getRunningLoop();
      const q = new Queue<number>();
      q.putNowait(1);
      expect(await q.get()).toBe(1);

      const started = new Event();
      let finished = false;
      const getTask = createTask(async () => {
        started.set();
        const res = await q.get();
        finished = true;
        return res;
      });
      await started.wait();
      expect(finished).toBe(false);
      loop.callLater(10, () => q.putNowait(1));
      expect(await getTask).toBe(1);
      expect(finished).toBe(true);
      expect(loop.time()).toBe(10);

      const full = new Queue<number>(1);
      let putFinished = false;
      loop.callLater(10, () => full.getNowait());
      const putTask = createTask(async () => {
        await full.put(1);
        await full.put(2);
        putFinished = true;
      });
      await ticks(1);
      expect(putFinished).toBe(false);
      await putTask;
      expect(putFinished).toBe(true);
      expect(loop.time()).toBe(20);

      // test_put_with_waiting_getters
      const q2 = new Queue<string>();
      const waiting = createTask(() => q2.get());
      await ticks(1);
      await q2.put("a");
      expect(await waiting).toBe("a");

      // test_get_with_putters: a get() wakes one waiting putter
      const q3 = new Queue<number>(1);
      await q3.put(1);
      const putter = createTask(() => q3.put(2));
      await ticks(1);
      expect(q3.statistics().tasksWaitingPut).toBe(1);
      expect(await q3.get()).toBe(1);
      expect(q3.statistics().tasksWaitingPut).toBe(0); // woken: removed from the putters
      await putter;
      expect(q3.getNowait()).toBe(2);
    });
  });

  it("Q-05: a getter cancelled before any put does not take the item", async () => {
    await vrun(async () => {
      const q = new Queue<string>();
      const t1 = createTask(() => q.get());
      const t2 = createTask(() => q.get());
      await ticks(1);
      t1.cancel();
      await ticks(1);
      expect(t1.done()).toBe(true);
      await q.put("a");
      await ticks(1);
      expect(await t2).toBe("a");
    });
  });

  it("Q-06: hand-off with waiting putters, and producers/consumers that never deadlock", async () => {
    await vrun(async () => {
      const q = new Queue<string>(1);
      createTask(() => q.put("a"));
      createTask(() => q.put("b"));
      expect(await q.get()).toBe("a");
      expect(await q.get()).toBe("b");

      // test_why_are_getters_waiting
      const q1 = new Queue<number>(1);
      await taskGroup(async (tg) => {
        tg.createTask(async () => {
          for (let i = 0; i < 5; i++) await q1.put(i);
        });
        tg.createTask(async () => {
          for (let i = 0; i < 5; i++) await q1.get();
        });
      });

      // test_why_are_putters_waiting
      const q2 = new Queue<number>(2);
      await taskGroup(async (tg) => {
        tg.createTask(async () => {
          await sleep(0);
          const n = q2.qsize();
          for (let i = 0; i < n; i++) q2.getNowait();
        });
        for (let i = 0; i < 4; i++) tg.createTask(() => q2.put(i));
      });
      expect(q2.qsize()).toBe(2);
    });
  });

  it("Q-08 [CORE]: cancelled readers never lose an item", async () => {
    await vrun(async () => {
      const q = new Queue<number>();
      const readers = await taskGroup(async (tg) => {
        const r1 = tg.createTask(() => q.get());
        const r2 = tg.createTask(() => q.get());
        const r3 = tg.createTask(() => q.get());
        await ticks(1);
        q.putNowait(1);
        q.putNowait(2);
        r1.cancel();
        expect(await errorOf(r1)).toBeInstanceOf(CancelledError);
        await r3;
        return [r2, r3];
      });
      expect(new Set(readers.map((r) => r.result()))).toEqual(new Set([1, 2]));

      // Variant: put wakes t1, t1 is cancelled before it runs: t2 receives the item.
      const q2 = new Queue<string>();
      const t1 = createTask(() => q2.get());
      const t2 = createTask(() => q2.get());
      await ticks(1);
      q2.putNowait("X");
      t1.cancel();
      expect(await errorOf(t1)).toBeInstanceOf(CancelledError);
      expect(await t2).toBe("X");
      expect(q2.qsize()).toBe(0);

      // test_get_cancel_drop_one_pending_reader
      const q3 = new Queue<number>();
      let reader = createTask(() => q3.get());
      await ticks(1);
      q3.putNowait(1);
      q3.putNowait(2);
      reader.cancel();
      const first = await outcome(reader);
      if (first === "CancelledError") {
        reader = createTask(() => q3.get());
        await reader;
      }
      expect([1, "CancelledError"]).toContain(first);
      expect(reader.result()).toBe(1); // 2 would mean 1 was dropped
    });
  });

  it("Q-09: a cancelled blocked put either completed or inserted nothing", async () => {
    await vrun(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      let writer = createTask(() => q.put(2));
      await ticks(1);
      expect(q.getNowait()).toBe(1);
      writer.cancel();
      const first = await outcome(writer);
      if (first === "CancelledError") {
        writer = createTask(() => q.put(2));
        await writer;
      }
      expect([undefined, "CancelledError"]).toContain(first);
      expect(q.getNowait()).toBe(2);
      expect(q.qsize()).toBe(0);
    });
  });

  it("Q-10: cancelling one of several blocked putters keeps the order of the others", async () => {
    await vrun(async () => {
      const q = new Queue<string>(1);
      const putA = createTask(() => q.put("a"));
      const putB = createTask(() => q.put("b"));
      const putC = createTask(() => q.put("X"));
      await ticks(1);
      expect(putA.done()).toBe(true);
      expect(putB.done()).toBe(false);
      putC.cancel();
      await ticks(1);
      expect(putC.done()).toBe(true);
      expect(q.getNowait()).toBe("a");
      await ticks(1);
      expect(q.getNowait()).toBe("b");
      await putB;
    });
  });

  it("Q-11: a cancelled put leaves no putter behind, even after get() woke it", async () => {
    await vrun(async () => {
      const q = new Queue<number>(1);
      q.putNowait(1);
      const putTask = createTask(() => q.put(1));
      await ticks(1);
      expect(q.statistics().tasksWaitingPut).toBe(1);
      putTask.cancel();
      expect(await errorOf(putTask)).toBeInstanceOf(CancelledError);
      expect(q.statistics().tasksWaitingPut).toBe(0);

      const q2 = new Queue<number>(1);
      q2.putNowait(1);
      const put2 = createTask(() => q2.put(1));
      await ticks(1);
      q2.getNowait(); // removes and wakes put2's putter
      put2.cancel();
      expect(await errorOf(put2)).toBeInstanceOf(CancelledError);
      expect(q2.qsize()).toBe(0);

      // test_cancelled_getters_not_being_held_in_self_getters
      const q3 = new Queue<number>(5);
      expect(await errorOf(waitFor(() => q3.get(), 100))).toBeInstanceOf(TimeoutError);
      expect(q3.statistics().tasksWaitingGet).toBe(0);
    });
  });

  for (const [name, Q] of QUEUES) {
    it(`Q-12 (${name}): taskDone() underflow is a RangeError; join() on an empty queue returns at once`, async () => {
      await vrun(async () => {
        const q = new Q();
        expectThrows(() => q.taskDone(), RangeError, "taskDone() called too many times");
        let iterationPassed = false;
        getRunningLoop().callSoon(() => {
          iterationPassed = true;
        });
        await q.join();
        await q.join();
        expect(iterationPassed).toBe(false);
      });
    });

    it(`Q (${name}, test_task_done): two workers process 100 items, join() waits for them`, async () => {
      await vrun(async () => {
        const q = new Q();
        for (let i = 0; i < 100; i++) q.putNowait(i);
        let accumulator = 0;
        let running = true;
        await taskGroup(async (tg) => {
          for (let w = 0; w < 2; w++) {
            tg.createTask(async () => {
              while (running) {
                const item = (await q.get()) as number;
                accumulator += item;
                q.taskDone();
              }
            });
          }
          await q.join();
          expect(accumulator).toBe(4950);
          running = false;
          q.putNowait(0);
          q.putNowait(0);
        });
      });
    });

    it(`Q-14 (${name}): shutdown() of an empty queue wakes the getter with QueueShutDown`, async () => {
      await vrun(async () => {
        const q = new Q();
        const getTask = createTask(() => q.get());
        await ticks(1);
        q.shutdown();
        expect(q.qsize()).toBe(0);
        await q.join();
        await ticks(1);
        expect(getTask.done()).toBe(true);
        expect(await errorOf(getTask)).toBeInstanceOf(QueueShutDown);
        expect(await errorOf(q.put("data"))).toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait("data")).toThrow(QueueShutDown);
        expect(await errorOf(q.get())).toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
      });
    });

    it(`Q-15 [CORE] (${name}): shutdown() of a non-empty queue: putters fail, items still drain`, async () => {
      await vrun(async () => {
        const q = new Q(1);
        q.putNowait("data");
        const joinTask = createTask(() => q.join());
        const putTask = createTask(() => q.put("data2"));
        await ticks(1);
        expect(putTask.done()).toBe(false);
        q.shutdown();
        expect(q.qsize()).toBe(1);
        await ticks(1);
        expect(putTask.done()).toBe(true);
        expect(await errorOf(putTask)).toBeInstanceOf(QueueShutDown);
        expect(await q.get()).toBe("data");
        await ticks(1);
        expect(joinTask.done()).toBe(false);
        expect(await errorOf(q.put("data"))).toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait("data")).toThrow(QueueShutDown);
        expect(await errorOf(q.get())).toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
        q.taskDone();
        await ticks(1);
        expect(joinTask.done()).toBe(true);
        await joinTask;
        expect(() => q.taskDone()).toThrow(RangeError);
      });
    });

    it(`Q-16 (${name}): shutdown(true) drops the items and releases join()`, async () => {
      await vrun(async () => {
        const q = new Q();
        q.putNowait("data");
        const joinTask = createTask(() => q.join());
        q.shutdown(true);
        expect(q.qsize()).toBe(0);
        await ticks(1);
        expect(joinTask.done()).toBe(true);
        await joinTask;
        expect(await errorOf(q.put("data"))).toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait("data")).toThrow(QueueShutDown);
        expect(await errorOf(q.get())).toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
        expect(() => q.taskDone()).toThrow(RangeError);
      });
    });

    it(`Q-17 (${name}): shutdown(true) counts dropped items as done, not items already taken`, async () => {
      await vrun(async () => {
        const q = new Q();
        q.putNowait("data");
        q.putNowait("data");
        const joinTask = createTask(() => q.join());
        expect(await q.get()).toBe("data");
        q.shutdown(true);
        expect(q.qsize()).toBe(0);
        expect(q.statistics().unfinishedTasks).toBe(1);
        await ticks(1);
        expect(joinTask.done()).toBe(false);
        expect(await errorOf(q.put("data"))).toBeInstanceOf(QueueShutDown);
        expect(() => q.putNowait("data")).toThrow(QueueShutDown);
        expect(await errorOf(q.get())).toBeInstanceOf(QueueShutDown);
        expect(() => q.getNowait()).toThrow(QueueShutDown);
        q.taskDone();
        expect(() => q.taskDone()).toThrow(RangeError);
        await ticks(1);
        expect(joinTask.done()).toBe(true);
        await joinTask;
      });
    });
  }

  it("Q-18: shutdown() wakes a blocked putter and a blocked getter; the full queue still drains", async () => {
    await vrun(async () => {
      const full = new Queue<number>(1);
      full.putNowait(1);
      const empty = new Queue<number>();
      const putter = createTask(() => full.put(2));
      const getter = createTask(() => empty.get());
      await ticks(1);
      full.shutdown();
      empty.shutdown();
      expect(await errorOf(putter)).toBeInstanceOf(QueueShutDown);
      expect(await errorOf(getter)).toBeInstanceOf(QueueShutDown);
      expect(full.getNowait()).toBe(1);
      expect(() => full.getNowait()).toThrow(QueueShutDown);
      expect(() => new Queue().getNowait()).toThrow(QueueEmpty);
    });
  });
});

describe("Queue: API", () => {
  it("FIFO, LIFO and priority order; empty/full/qsize; float maxsize", async () => {
    await vrun(async () => {
      const orders: unknown[][] = [];
      for (const [, Q] of QUEUES) {
        const q = new Q();
        for (const i of [1, 3, 2]) await q.put(i);
        orders.push([await q.get(), await q.get(), await q.get()]);
      }
      expect(orders).toEqual([
        [1, 3, 2],
        [2, 3, 1],
        [1, 2, 3],
      ]);

      const q = new Queue<number>();
      expect(q.empty()).toBe(true);
      expect(q.full()).toBe(false);
      await q.put(1);
      expect(q.empty()).toBe(false);
      const one = new Queue<number>(1);
      await one.put(1);
      expect(one.full()).toBe(true);
      expectThrows(() => one.putNowait(2), QueueFull, "Queue is full");
      expectThrows(() => new Queue().getNowait(), QueueEmpty, "Queue is empty");

      const f = new Queue<number>(1.3);
      f.putNowait(1);
      f.putNowait(2);
      expect(f.full()).toBe(true);
      expect(() => f.putNowait(3)).toThrow(QueueFull);
      expect(new Queue(-1).full()).toBe(false);
    });
  });

  it("rejects a bad maxsize, naming it; is not thenable", async () => {
    expectThrows(() => new Queue(Number.NaN), RangeError, '"maxsize"', "NaN (number)");
    expectThrows(() => new Queue("10" as never), TypeError, '"maxsize"', '"10" (string)');
    expectThrows(() => new PriorityQueue(0, { compare: 1 as never }), TypeError, '"compare"');
    expectThrows(() => new LifoQueue(Number.NaN), RangeError, "new LifoQueue()");
    await vrun(async () => {
      const q = new Queue();
      expect("then" in q).toBe(false);
      expect(await (q as unknown as Promise<unknown>)).toBe(q);
    });
  });

  it("comparePython orders numbers, bigints, strings and tuples like Python", () => {
    expect(comparePython(1, 2)).toBe(-1);
    expect(comparePython(2n, 1.5)).toBe(1);
    expect(comparePython(true, 0)).toBe(1);
    expect(comparePython("b", "a")).toBe(1);
    expect(comparePython([1, "b"], [1, "a"])).toBe(1);
    expect(comparePython([1, 2], [1, 2, 0])).toBeLessThan(0);
    expect(comparePython([[1, 2]], [[1, 3]])).toBe(-1);
    const obj = {};
    expect(comparePython([1, obj], [2, {}])).toBe(-1); // decided before the objects
    expect(comparePython([1, obj], [1, obj])).toBe(0); // the same object: equal, as in Python
    expectThrows(() => comparePython([1, {}], [1, {}]), TypeError, "cannot order");
    expectThrows(() => comparePython("a", 1), TypeError, '"a" (string)', "1 (number)");
  });

  it("PriorityQueue: tuples, a custom compare, and a throwing comparator loses nothing", async () => {
    await vrun(async () => {
      const q = new PriorityQueue<[number, string]>();
      for (const entry of [
        [3, "c"],
        [1, "a"],
        [2, "b"],
        [1, "A"],
      ] as [number, string][]) {
        q.putNowait(entry);
      }
      const out: [number, string][] = [];
      while (!q.empty()) out.push(q.getNowait());
      expect(out).toEqual([
        [1, "A"],
        [1, "a"],
        [2, "b"],
        [3, "c"],
      ]);

      const byLength = new PriorityQueue<string>(0, { compare: (a, b) => b.length - a.length });
      for (const s of ["a", "abc", "ab"]) byLength.putNowait(s);
      expect([byLength.getNowait(), byLength.getNowait(), byLength.getNowait()]).toEqual([
        "abc",
        "ab",
        "a",
      ]);

      const mixed = new PriorityQueue<unknown>();
      mixed.putNowait(1);
      expect(() => mixed.putNowait("x")).toThrow(TypeError);
      expect(mixed.qsize()).toBe(1);
      expect(mixed.statistics().unfinishedTasks).toBe(1); // the failed put counts nothing

      // A heap holding items that cannot all be compared: a failing get keeps every item.
      const fragile = new PriorityQueue<[number, unknown]>();
      fragile.putNowait([1, {}]);
      fragile.putNowait([2, {}]);
      fragile.putNowait([2, {}]);
      expect(() => fragile.getNowait()).toThrow(TypeError);
      expect(fragile.qsize()).toBe(3);
      expect(() => fragile.getNowait()).toThrow(TypeError); // still all there, still unorderable
      expect(fragile.qsize()).toBe(3);
    });
  });

  it("for await takes items until the queue is shut down and empty", async () => {
    await vrun(async () => {
      const q = new Queue<number>(2);
      const seen: number[] = [];
      const consumer = createTask(async () => {
        for await (const item of q) {
          seen.push(item);
          q.taskDone();
        }
        return "ended";
      });
      for (let i = 0; i < 5; i++) await q.put(i);
      await q.join();
      q.shutdown();
      expect(await consumer).toBe("ended");
      expect(seen).toEqual([0, 1, 2, 3, 4]);

      // Breaking out of the loop takes nothing more.
      const q2 = new Queue<number>();
      for (const i of [1, 2, 3]) q2.putNowait(i);
      for await (const item of q2) {
        if (item === 1) break;
      }
      expect(q2.qsize()).toBe(2);

      // Cancelling a consumer blocked in the loop.
      const q3 = new Queue<number>();
      const blocked = createTask(async () => {
        for await (const _ of q3) {
          // never reached
        }
      });
      await ticks(1);
      blocked.cancel();
      expect(await errorOf(blocked)).toBeInstanceOf(CancelledError);
      expect(q3.statistics().tasksWaitingGet).toBe(0);
    });
  });

  it("statistics() and toString()", async () => {
    await vrun(async () => {
      const q = new Queue<number>(1);
      expect(q.statistics()).toEqual({
        qsize: 0,
        maxsize: 1,
        unfinishedTasks: 0,
        tasksWaitingGet: 0,
        tasksWaitingPut: 0,
        tasksWaitingJoin: 0,
        shutdown: false,
      });
      const getter = createTask(() => q.get());
      await ticks(1);
      expect(String(q)).toBe("<Queue maxsize=1 qsize=0 getters=1>");
      q.putNowait(1);
      await getter;
      q.putNowait(2);
      const putter = createTask(() => q.put(3));
      const joiner = createTask(() => q.join());
      await ticks(1);
      expect(q.statistics()).toMatchObject({
        qsize: 1,
        unfinishedTasks: 2,
        tasksWaitingPut: 1,
        tasksWaitingJoin: 1,
      });
      expect(String(q)).toBe("<Queue maxsize=1 qsize=1 tasks=2 putters=1>");
      q.shutdown(true);
      expect(String(q)).toBe("<Queue maxsize=1 qsize=0 tasks=1 shutdown>");
      expect(await outcome(putter)).toBe("QueueShutDown");
      q.taskDone();
      await joiner;
      expect(q.statistics().tasksWaitingJoin).toBe(0);
      expect(String(new PriorityQueue())).toBe("<PriorityQueue maxsize=0 qsize=0>");
    });
  });

  it("a getter woken for an item taken by someone else waits again, and stays cancellable", async () => {
    await vrun(async () => {
      const q = new Queue<number>();
      const getter = createTask(() => q.get());
      await ticks(1);
      q.putNowait(1); // wakes the getter...
      expect(q.getNowait()).toBe(1); // ... but this takes the item first
      await ticks(2);
      expect(getter.done()).toBe(false);
      expect(q.statistics().tasksWaitingGet).toBe(1);
      getter.cancel();
      expect(await errorOf(getter)).toBeInstanceOf(CancelledError);
      expect(q.statistics().tasksWaitingGet).toBe(0);

      const again = createTask(() => q.get());
      await ticks(1);
      q.putNowait(2);
      q.getNowait();
      await ticks(2);
      q.putNowait(3);
      expect(await again).toBe(3);
    });
  });

  it("is bound to the loop it first waits on", async () => {
    const q = new Queue<number>();
    await vrun(async () => {
      const t = createTask(() => q.get());
      await ticks(1);
      q.putNowait(1);
      await t;
    });
    await vrun(async () => {
      q.putNowait(1); // no waiting: fine
      expect(await q.get()).toBe(1);
      const error = await errorOf(q.get());
      expect(error).toBeInstanceOf(RuntimeError);
      expect((error as Error).message).toContain("is bound to a different event loop");
    });
  });
});

describe("Queue: properties", () => {
  const actor = fc.record({
    producer: fc.boolean(),
    start: fc.integer({ min: 0, max: 10 }),
    count: fc.integer({ min: 1, max: 4 }),
    pause: fc.integer({ min: 0, max: 3 }),
    limit: fc.option(fc.integer({ min: 0, max: 6 })),
  });

  for (const [name, Q] of QUEUES) {
    test.prop(
      [
        fc.integer({ min: 0, max: 3 }),
        fc.array(actor, { minLength: 1, maxLength: 10 }),
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 30 }), victim: fc.nat() }), {
          maxLength: 4,
        }),
      ],
      { numRuns: 100 },
    )(
      `${name}: every item put is delivered once or still queued; join() returns when the last taskDone() comes`,
      async (maxsize, actors, cancels) => {
        await vrun(async () => {
          const loop = getRunningLoop();
          const q = new Q(maxsize);
          let nextId = 0;
          const put = new Set<number>();
          const delivered: number[] = [];
          let shadow = 0; // unfinished work as the test counts it
          let zeroAt: number | undefined;
          const tasks: Task<void>[] = actors.map((a) =>
            createTask(async () => {
              await sleep(a.start);
              for (let i = 0; i < a.count; i++) {
                const step = async (): Promise<void> => {
                  if (a.producer) {
                    const id = nextId++;
                    await q.put(id);
                    put.add(id);
                    shadow++;
                  } else {
                    const item = (await q.get()) as number;
                    delivered.push(item);
                    try {
                      await sleep(a.pause);
                    } finally {
                      q.taskDone();
                      if (--shadow === 0) zeroAt ??= loop.time();
                    }
                  }
                };
                try {
                  if (a.limit === null) await step();
                  else await timeout(a.limit, step);
                } catch (error) {
                  if (!(error instanceof TimeoutError)) throw error;
                }
                await sleep(a.pause);
              }
            }),
          );
          let joinedAt: number | undefined;
          let shadowAtJoin: number | undefined;
          const joiner = createTask(async () => {
            await sleep(1);
            if (shadow === 0) return;
            zeroAt = undefined; // only a zero reached after join() began counts
            await q.join();
            joinedAt = loop.time();
            shadowAtJoin = shadow;
          });
          for (const c of cancels) {
            loop.callLater(c.at, () => tasks[c.victim % tasks.length]?.cancel());
          }
          // Whoever still waits (a consumer with nothing left to get, a producer facing a full
          // queue) is cancelled: that must not lose or invent anything either.
          await sleep(100);
          for (const t of tasks) t.cancel();
          for (const t of tasks) {
            try {
              await t;
            } catch (error) {
              if (!(error instanceof CancelledError)) throw error;
            }
          }
          // Drain what is left, then check the books.
          const left: number[] = [];
          while (!q.empty()) {
            left.push(q.getNowait() as number);
            q.taskDone();
            if (--shadow === 0) zeroAt ??= loop.time();
          }
          await sleep(1);
          const all = [...delivered, ...left];
          expect(new Set(all).size).toBe(all.length); // nothing twice
          expect(new Set(all)).toEqual(put); // nothing lost, nothing invented
          expect(q.statistics()).toMatchObject({
            unfinishedTasks: 0,
            tasksWaitingGet: 0,
            tasksWaitingPut: 0,
            tasksWaitingJoin: 0,
          });
          expect(shadow).toBe(0);
          expect(joiner.done()).toBe(true);
          await joiner;
          if (joinedAt !== undefined) {
            // Not before the count reached zero, and in the same instant (one iteration later).
            expect(zeroAt).toBeDefined();
            expect(joinedAt).toBe(zeroAt);
            expect(shadowAtJoin).toBeGreaterThanOrEqual(0);
          }
        });
      },
    );
  }
});
