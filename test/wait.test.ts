/**
 * `wait` and `asCompleted`: the WAIT and ASC cases of the asyncio behaviour catalogue
 * (CPython's test_tasks.py `test_wait*` and `test_as_completed*`), on virtual time.
 */
import { describe, expect, it } from "vitest";
import {
  ALL_COMPLETED,
  AsCompleted,
  asCompleted,
  CancelledError,
  createTask,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  Future,
  getRunningLoop,
  RuntimeError,
  sleep,
  Task,
  TimeoutError,
  wait,
} from "../src/index.ts";
import { now, ticks, vrun } from "./helpers/run.ts";
import { caught, expectSet, ZeroDivisionError } from "./helpers/timeouts-helpers.ts";

describe("wait", () => {
  it("WAIT-01: waits for all tasks by default; done holds both, pending is empty, at the later deadline", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(100, "a"));
      const b = createTask(() => sleep(150, "b"));
      const { done, pending } = await wait([b, a]);
      expectSet(done, [a, b]);
      expect(pending.size).toBe(0);
      expect(now()).toBe(150);
      expect(a.result()).toBe("a");
      expect(b.result()).toBe("b");
    });
  });

  it("WAIT-01: waiting again on finished tasks returns at once (no time passes)", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(100));
      const b = createTask(() => sleep(150));
      await wait([b, a]);
      const again = await wait([b, a]);
      expectSet(again.done, [a, b]);
      expect(again.pending.size).toBe(0);
      expect(now()).toBe(150);
    });
  });

  it("WAIT-01: accepts an iterator or a generator of tasks, and collapses duplicates", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(10));
      const b = createTask(() => sleep(20));
      const fromIterator = await wait(new Set([a, b]).values());
      expectSet(fromIterator.done, [a, b]);
      expect(now()).toBe(20);

      const c = createTask(() => sleep(10));
      const d = createTask(() => sleep(30));
      function* tasks(): Generator<Task<void>> {
        yield c;
        yield d;
      }
      const fromGenerator = await wait(tasks());
      expectSet(fromGenerator.done, [c, d]);
      expect(now()).toBe(50);

      const e = createTask(() => sleep(5));
      const dup = await wait([e, e, e]);
      expect(dup.done.size).toBe(1);
      expect(dup.done.has(e)).toBe(true);
    });
  });

  it("WAIT-02: an empty iterable is a RangeError naming the argument", async () => {
    await vrun(async () => {
      for (const empty of [[], new Set<Task>()]) {
        const error = await caught(wait(empty));
        expect(error).toBeInstanceOf(RangeError);
        expect((error as Error).message).toMatch(/"aws"/);
        expect((error as Error).message).toMatch(/empty/);
      }
    });
  });

  it("WAIT-02: an unknown returnWhen is a RangeError naming it and the value; nothing is awaited", async () => {
    await vrun(async () => {
      const t = createTask(() => sleep(100));
      const bad = await caught(wait([t], { returnWhen: -1 as never }));
      expect(bad).toBeInstanceOf(RangeError);
      expect((bad as Error).message).toMatch(/returnWhen/);
      expect((bad as Error).message).toMatch(/-1/);
      const badString = await caught(wait([t], { returnWhen: "FIRST" as never }));
      expect(badString).toBeInstanceOf(RangeError);
      expect((badString as Error).message).toMatch(/"FIRST"/);
      expect(now()).toBe(0);
      expect(t.done()).toBe(false);
      t.cancel();
    });
  });

  it("WAIT-02: a single future, task or coroutine function (not an iterable) is a TypeError", async () => {
    await vrun(async () => {
      const fut = new Future<number>();
      const task = createTask(() => sleep(10));
      async function myCoro(): Promise<void> {}
      for (const [value, shown] of [
        [fut, /Future/],
        [task, /Task/],
        [myCoro, /myCoro/],
        [5, /5 \(number\)/],
        ["ab", /"ab" \(string\)/],
        [null, /null/],
      ] as const) {
        const error = await caught(wait(value as never));
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toMatch(/"aws"/);
        expect((error as Error).message).toMatch(shown);
      }
      await task;
    });
  });

  it("WAIT-02: a coroutine function inside the iterable is a TypeError (start it as a task first)", async () => {
    await vrun(async () => {
      let called = false;
      async function myCoro(): Promise<void> {
        called = true;
      }
      const error = await caught(wait([myCoro] as never));
      expect(error).toBeInstanceOf(TypeError);
      const message = (error as Error).message;
      expect(message).toMatch(/forbidden/);
      expect(message).toMatch(/createTask/);
      // The contract: the message names the argument (or the element, "aws[0]") and the value.
      expect(message).toMatch(/"aws/);
      expect(message).toMatch(/myCoro/);
      expect(called).toBe(false);
    });
  });

  it("WAIT-02: other non-future elements are a TypeError naming the argument and the value", async () => {
    await vrun(async () => {
      for (const [value, shown] of [
        [5, /5 \(number\)/],
        [Promise.resolve(1), /Promise/],
      ] as const) {
        const error = await caught(wait([value] as never));
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toMatch(/"aws/);
        expect((error as Error).message).toMatch(shown);
      }
    });
  });

  it("WAIT-ARGS: a bad timeout or options object is rejected, naming the argument and the value", async () => {
    await vrun(async () => {
      const t = createTask(() => sleep(10));
      const nan = await caught(wait([t], { timeout: Number.NaN }));
      expect(nan).toBeInstanceOf(RangeError);
      expect((nan as Error).message).toMatch(/"timeout"/);
      expect((nan as Error).message).toMatch(/NaN/);
      const str = await caught(wait([t], { timeout: "10" as never }));
      expect(str).toBeInstanceOf(TypeError);
      expect((str as Error).message).toMatch(/"timeout"/);
      expect((str as Error).message).toMatch(/"10" \(string\)/);
      const opts = await caught(wait([t], 5 as never));
      expect(opts).toBeInstanceOf(TypeError);
      expect((opts as Error).message).toMatch(/"options"/);
      expect((opts as Error).message).toMatch(/5 \(number\)/);
      // timeout: null means no timeout.
      const { done } = await wait([t], { timeout: null });
      expectSet(done, [t]);
    });
  });

  it("WAIT-ARGS: wait() outside run() is a RuntimeError", async () => {
    // Boxed: a Future is thenable, and returning it bare would adopt it.
    const { fut } = await vrun(async () => ({ fut: new Future<void>() }));
    const error = await caught(wait([fut]));
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/no running event loop/);
  });

  it("WAIT-05 (ticks): the done/pending partition is computed when wait() returns", async () => {
    await vrun(async () => {
      const a = createTask(() => ticks(1));
      const b = createTask(() => ticks(2));
      const { done, pending } = await wait([b, a], { returnWhen: FIRST_COMPLETED });
      expectSet(done, [a, b]);
      expect(pending.size).toBe(0);
    });
  });

  it("WAIT-05: FIRST_COMPLETED returns at the first completion and leaves the rest pending", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(10));
      const b = createTask(() => sleep(100));
      const { done, pending } = await wait([a, b], { returnWhen: FIRST_COMPLETED });
      expectSet(done, [a]);
      expectSet(pending, [b]);
      expect(now()).toBe(10);
      expect(b.cancelled()).toBe(false);
      await b;
    });
  });

  it("WAIT-05: FIRST_COMPLETED counts a cancellation as a completion", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(10_000));
      const b = createTask(() => sleep(100));
      getRunningLoop().callLater(5, () => a.cancel());
      const { done, pending } = await wait([a, b], { returnWhen: FIRST_COMPLETED });
      expectSet(done, [a]);
      expectSet(pending, [b]);
      expect(a.cancelled()).toBe(true);
      expect(now()).toBe(5);
      await b;
    });
  });

  it("WAIT-06: FIRST_EXCEPTION returns when a task fails at once; the others stay pending", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(10_000));
      const b = createTask(async () => {
        throw new ZeroDivisionError("b");
      });
      const { done, pending } = await wait([b, a], { returnWhen: FIRST_EXCEPTION });
      expectSet(done, [b]);
      expectSet(pending, [a]);
      expect(now()).toBe(0);
      expect(b.exception()).toBeInstanceOf(ZeroDivisionError);
      expect(a.cancelled()).toBe(false);
      a.cancel();
    });
  });

  it("WAIT-06: FIRST_EXCEPTION returns when a task fails later, at that time", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(10_000));
      const b = createTask(async () => {
        await sleep(10);
        throw new ZeroDivisionError("b");
      });
      const { done, pending } = await wait([b, a], { returnWhen: FIRST_EXCEPTION });
      expectSet(done, [b]);
      expectSet(pending, [a]);
      expect(now()).toBe(10);
      expect(b.exception()).toBeInstanceOf(ZeroDivisionError);
      a.cancel();
    });
  });

  it("WAIT-06: FIRST_EXCEPTION does not count a cancellation, and with no failure waits for all", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(100));
      const c = createTask(() => sleep(10_000));
      getRunningLoop().callLater(10, () => c.cancel());
      const { done, pending } = await wait([a, c], { returnWhen: FIRST_EXCEPTION });
      expectSet(done, [a, c]);
      expect(pending.size).toBe(0);
      expect(c.cancelled()).toBe(true);
      expect(now()).toBe(100);
    });
  });

  it("WAIT-08 [CORE]: on timeout, returns the partition without raising and without cancelling", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(100));
      const b = createTask(() => sleep(150));
      const { done, pending } = await wait([a, b], { timeout: 110 });
      expectSet(done, [a]);
      expectSet(pending, [b]);
      expect(now()).toBe(110);
      expect(b.cancelled()).toBe(false);
      expect(b.done()).toBe(false);
      await b;
      expect(now()).toBe(150);
    });
  });

  it("WAIT-08: a task finishing at the timeout instant is in done (test_wait_concurrent_complete)", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(100));
      const b = createTask(() => sleep(150));
      const w = createTask(() => wait([b, a], { timeout: 100 }));
      const { done, pending } = await w;
      expectSet(done, [a]);
      expectSet(pending, [b]);
      expect(now()).toBe(100);
      await b;
    });
  });

  it("WAIT-08: same, with task bodies that await inside an async function", async () => {
    await vrun(async () => {
      const a = createTask(async () => {
        await sleep(100);
      });
      const b = createTask(async () => {
        await sleep(150);
      });
      const w = createTask(() => wait([b, a], { timeout: 100 }));
      const { done, pending } = await w;
      expectSet(done, [a]);
      expectSet(pending, [b]);
      expect(now()).toBe(100);
      await b;
    });
  });

  it("WAIT-08: the default is ALL_COMPLETED; an explicit ALL_COMPLETED behaves the same", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(10));
      const b = createTask(() => sleep(20));
      const { done } = await wait([a, b], { returnWhen: ALL_COMPLETED });
      expectSet(done, [a, b]);
      expect(now()).toBe(20);
    });
  });

  it("WAIT-09: cancelling the task awaiting wait() does not cancel the awaited tasks", async () => {
    await vrun(async () => {
      let proof = 0;
      const waiter = new Future<void>();
      let inner: Task<void> | undefined;
      const outer = createTask(async () => {
        inner = createTask(async () => {
          await waiter;
          proof += 1;
        });
        await wait([inner]);
        proof += 100;
      });
      await ticks(2);
      expect(outer.cancel()).toBe(true);
      const error = await caught(outer);
      expect(error).toBeInstanceOf(CancelledError);
      expect(outer.cancelled()).toBe(true);
      expect(inner?.done()).toBe(false);
      waiter.setResult();
      await ticks(2);
      expect(inner?.done()).toBe(true);
      expect(inner?.cancelled()).toBe(false);
      expect(proof).toBe(1);
    });
  });
});

describe("asCompleted", () => {
  it("ASC-01 [CORE]: plain iteration yields awaitables in completion order", async () => {
    await vrun(async () => {
      const results: string[] = [];
      for (const next of asCompleted([
        () => sleep(10, "b"),
        () => sleep(150, "c"),
        () => sleep(10, "a"),
      ])) {
        results.push(await next);
      }
      expect(results).toHaveLength(3);
      expect(results.slice(0, 2).sort()).toEqual(["a", "b"]);
      expect(results[2]).toBe("c");
      expect(now()).toBe(150);
    });
  });

  it("ASC-01 [CORE]: for await yields the original tasks in completion order", async () => {
    await vrun(async () => {
      const b = createTask(() => sleep(10, "b"));
      const c = createTask(() => sleep(150, "c"));
      const a = createTask(() => sleep(10, "a"));
      const yielded: unknown[] = [];
      const results: string[] = [];
      for await (const item of asCompleted([b, c, a])) {
        // TypeScript types a for-await value as awaited (string); at run time it is the Task.
        const task = item as unknown as Task<string>;
        yielded.push(task);
        expect(task.done()).toBe(true);
        results.push(await task);
      }
      expect(results.slice(0, 2).sort()).toEqual(["a", "b"]);
      expect(results[2]).toBe("c");
      expect(yielded).toHaveLength(3);
      expect(yielded.slice(0, 2)).toContain(a);
      expect(yielded.slice(0, 2)).toContain(b);
      expect(yielded[2]).toBe(c);
      expect(now()).toBe(150);
    });
  });

  it("ASC-01: for await over coroutine functions yields the tasks made for them", async () => {
    await vrun(async () => {
      const results: string[] = [];
      for await (const item of asCompleted([() => sleep(20, "x"), () => sleep(10, "y")])) {
        const task = item as unknown as Task<string>;
        expect(task).toBeInstanceOf(Task);
        results.push(task.result());
      }
      expect(results).toEqual(["y", "x"]);
      expect(now()).toBe(20);
    });
  });

  it("ASC-01: the object is both iterable and async iterable", async () => {
    await vrun(async () => {
      const ac = asCompleted([() => sleep(1)]);
      expect(ac).toBeInstanceOf(AsCompleted);
      expect(typeof ac[Symbol.iterator]).toBe("function");
      expect(typeof ac[Symbol.asyncIterator]).toBe("function");
      for await (const t of ac) await t;
    });
  });

  it("ASC-03: plain form: after the first result, awaiting the next one raises TimeoutError", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(100, "a"));
      const b = createTask(() => sleep(150, "b"));
      const results: string[] = [];
      let error: unknown;
      try {
        for (const next of asCompleted([a, b], { timeout: 120 })) results.push(await next);
      } catch (e) {
        error = e;
      }
      expect(results).toEqual(["a"]);
      expect(error).toBeInstanceOf(TimeoutError);
      expect(now()).toBe(120);
      expect(a.cancelled()).toBe(false);
      expect(b.cancelled()).toBe(false);
      expect(b.done()).toBe(false);
      expect(await b).toBe("b");
      expect(now()).toBe(150);
    });
  });

  it("ASC-03: async form: the for await itself raises TimeoutError; inputs are not cancelled", async () => {
    await vrun(async () => {
      const a = createTask(() => sleep(100, "a"));
      const b = createTask(() => sleep(150, "b"));
      const iterator = asCompleted([a, b], { timeout: 120 })[Symbol.asyncIterator]();
      const first = await iterator.next();
      expect(first.done).toBe(false);
      expect(first.value).toBe(a);
      const error = await caught(iterator.next());
      expect(error).toBeInstanceOf(TimeoutError);
      expect(now()).toBe(120);
      expect(b.cancelled()).toBe(false);
      expect(b.done()).toBe(false);
      expect(await b).toBe("b");
    });
  });

  it("ASC-04: an unused timeout changes nothing", async () => {
    await vrun(async () => {
      const plain: string[] = [];
      for (const next of asCompleted([() => sleep(10, "a")], { timeout: 1000 })) {
        plain.push(await next);
      }
      expect(plain).toEqual(["a"]);
      expect(now()).toBe(10);
      const asyncForm: string[] = [];
      for await (const t of asCompleted([() => sleep(10, "a")], { timeout: 1000 })) {
        asyncForm.push(await (t as unknown as Task<string>));
      }
      expect(asyncForm).toEqual(["a"]);
      expect(now()).toBe(20);
    });
  });

  it("ASC-05: plain form: iteration stopped with break resumes on the same object", async () => {
    await vrun(async () => {
      const tasks = [0, 1, 2, 3].map((i) => createTask(() => sleep(10 * (i + 1), i)));
      const ac = asCompleted(tasks);
      const results = new Set<number>();
      for (const next of ac) {
        results.add(await next);
        if (results.size === 2) break;
      }
      expect(results).toEqual(new Set([0, 1]));
      for (const next of ac) results.add(await next);
      expect(results).toEqual(new Set([0, 1, 2, 3]));
      // Exhausted: a third loop yields nothing.
      expect([...ac]).toHaveLength(0);
    });
  });

  it("ASC-05: async form: iteration stopped with break resumes on the same object", async () => {
    await vrun(async () => {
      const tasks = [0, 1, 2, 3].map((i) => createTask(() => sleep(10 * (i + 1), i)));
      const ac = asCompleted(tasks);
      const results = new Set<number>();
      for await (const t of ac) {
        results.add(await (t as unknown as Task<number>));
        if (results.size === 2) break;
      }
      expect(results).toEqual(new Set([0, 1]));
      for await (const t of ac) results.add(await (t as unknown as Task<number>));
      expect(results).toEqual(new Set([0, 1, 2, 3]));
      let more = 0;
      for await (const _ of ac) more++;
      expect(more).toBe(0);
    });
  });

  it("ASC-06: each yielded awaitable gives the next completed input, whichever is awaited", async () => {
    await vrun(async () => {
      const futs = [...asCompleted([() => sleep(50, "a"), () => sleep(100, "b")])];
      expect(futs).toHaveLength(2);
      const [first, second] = futs as [PromiseLike<string>, PromiseLike<string>];
      expect(await second).toBe("a");
      expect(now()).toBe(50);
      expect(await first).toBe("b");
      expect(now()).toBe(100);
    });
  });

  it("ASC-07: yielded awaitables can be awaited concurrently", async () => {
    await vrun(async () => {
      const tasks = [...asCompleted([() => sleep(50, "a"), () => sleep(100, "b")])].map((next) =>
        createTask(async () => await next),
      );
      const { done, pending } = await wait(tasks);
      expect(pending.size).toBe(0);
      expect(new Set([...done].map((t) => t.result()))).toEqual(new Set(["a", "b"]));
      expect(now()).toBe(100);
    });
  });

  it("ASC-07: duplicate inputs are iterated once (same task, same function)", async () => {
    await vrun(async () => {
      const ham = createTask(() => sleep(10, "ham"));
      let calls = 0;
      const spam = async (): Promise<string> => {
        calls++;
        await sleep(20);
        return "spam";
      };
      const plain: string[] = [];
      for (const next of asCompleted([ham, ham, spam, spam])) plain.push(await next);
      expect(plain).toEqual(["ham", "spam"]);
      expect(calls).toBe(1);
      const asyncForm: unknown[] = [];
      for await (const t of asCompleted([ham, ham])) asyncForm.push(t);
      expect(asyncForm).toEqual([ham]);
    });
  });

  it("ASC-08: a single future, task or function instead of an iterable is a TypeError at call time", async () => {
    await vrun(async () => {
      const fut = new Future<number>();
      const task = createTask(() => sleep(1));
      async function myCoro(): Promise<number> {
        return 1;
      }
      for (const value of [fut, task, myCoro, 5, null]) {
        let error: unknown;
        try {
          asCompleted(value as never);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toMatch(/"aws"/);
      }
      await task;
    });
  });

  it("ASC-08: called outside run(), asCompleted raises RuntimeError (no running loop)", () => {
    expect(() => asCompleted([async () => 1])).toThrow(RuntimeError);
    expect(() => asCompleted([async () => 1])).toThrow(/no running event loop/);
  });

  it("ASC-ARGS: bad elements, timeout and options are rejected, naming the argument and the value", async () => {
    await vrun(async () => {
      const element = ((): unknown => {
        try {
          asCompleted([5] as never);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(element).toBeInstanceOf(TypeError);
      expect((element as Error).message).toMatch(/5 \(number\)/);
      expect((element as Error).message).toMatch(/"aws/);
      expect(() => asCompleted([], { timeout: Number.NaN })).toThrow(RangeError);
      expect(() => asCompleted([], { timeout: Number.NaN })).toThrow(/"timeout".*NaN/);
      expect(() => asCompleted([], { timeout: "1" as never })).toThrow(TypeError);
      expect(() => asCompleted([], 5 as never)).toThrow(/"options".*5 \(number\)/);
      // An empty input iterates nothing, in both forms.
      expect([...asCompleted([])]).toHaveLength(0);
      let n = 0;
      for await (const _ of asCompleted([])) n++;
      expect(n).toBe(0);
    });
  });
});
