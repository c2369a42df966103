/**
 * toThread and transfer: asyncio's THR cases where they apply, errors crossing the thread
 * boundary, closures, module jobs, moving buffers, and cancellation that really stops the work.
 * Threads need real time: these tests run under `run()` on the system clock, with bounds.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  gather,
  getRunningLoop,
  isCancelled,
  RuntimeError,
  run,
  sleep,
  TimeoutError,
  timeout,
  toThread,
  transfer,
  WorkerPool,
} from "../src/index.ts";

const jobs = new URL("./fixtures/thread-jobs.ts", import.meta.url);

function rrun<T>(main: () => Promise<T>): Promise<T> {
  return run(main, { handleSignals: false });
}

async function errorOf(promise: PromiseLike<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

/** Sleep in small steps until `cond()` holds (bounded). */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error("condition not reached in time");
    await sleep(5);
  }
}

/**
 * A job that marks `flags[0]` when it starts, spins for `ms`, then marks `flags[1]`: if
 * `flags[1]` is never set, the job was stopped.
 */
function spinThenMark(flags: Int32Array, ms: number): string {
  Atomics.store(flags, 0, 1);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy: a worker that is terminated stops here
  }
  Atomics.store(flags, 1, 1);
  return "finished";
}

function sharedFlags(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(8));
}

describe("toThread: asyncio cases (THR)", () => {
  it("THR-01: a function runs in a thread and its result comes back", async () => {
    const result = await rrun(() =>
      toThread((xs: number[]) => xs.reduce((a, b) => a + b, 0), [40, 2]),
    );
    expect(result).toBe(42);
  });

  it("THR-01 (exception): an error thrown in the thread propagates, with its class", async () => {
    const error = await rrun(() =>
      errorOf(
        toThread(() => {
          throw new RangeError("test");
        }),
      ),
    );
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe("test");
  });

  it("THR-01 (once): the function is called exactly once", async () => {
    const calls = new Int32Array(new SharedArrayBuffer(4));
    await rrun(() => toThread((c: Int32Array) => Atomics.add(c, 0, 1), calls));
    expect(Atomics.load(calls, 0)).toBe(1);
  });

  it("THR-01 (concurrent): 10 calls through gather all run", async () => {
    const results = await rrun(() =>
      gather(Array.from({ length: 10 }, (_, i) => () => toThread((n: number) => n * n, i))),
    );
    expect(results).toEqual([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
  });

  it("THR-01 (args): positional arguments pass through; keyword arguments become an object", async () => {
    const result = await rrun(() =>
      toThread(
        (word: string, options: { something: boolean }) => `${word}:${options.something}`,
        "test",
        { something: true },
      ),
    );
    expect(result).toBe("test:true");
  });

  it("THR-02 (deviation): AsyncLocalStorage values do not reach the thread; pass them as arguments", async () => {
    const als = new AsyncLocalStorage<string>();
    const error = await rrun(() =>
      als.run("parrot", () => errorOf(toThread(() => als.getStore()))),
    );
    expect(error).toBeInstanceOf(ReferenceError);
    const passed = await rrun(() =>
      als.run("parrot", () => toThread((v: string | undefined) => v, als.getStore())),
    );
    expect(passed).toBe("parrot");
  });
});

describe("toThread: the function and its arguments", () => {
  it("an async function is awaited in the thread", async () => {
    const result = await rrun(() =>
      toThread(async (ms: number) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return "slept";
      }, 5),
    );
    expect(result).toBe("slept");
  });

  it("a method and a named function expression compile too", async () => {
    const obj = {
      triple(n: number): number {
        return n * 3;
      },
    };
    const results = await rrun(() =>
      gather(
        // oxlint-disable-next-line typescript/unbound-method -- sent as source; `this` is the job's
        toThread(obj.triple, 5),
        toThread(function square(n: number) {
          return n * n;
        }, 5),
      ),
    );
    expect(results).toEqual([15, 25]);
  });

  it("structured clone: Map, Set, Date, typed arrays and nested data come back intact", async () => {
    const input = {
      map: new Map([["a", 1]]),
      set: new Set([1, 2]),
      date: new Date(0),
      bytes: new Uint8Array([1, 2, 3]),
    };
    const output = await rrun(() => toThread((x: typeof input) => x, input));
    expect(output).toEqual(input);
    expect(output).not.toBe(input);
  });

  it("a closure variable fails with a message that names it and says how to fix it", async () => {
    const factor = 3;
    const error = await rrun(() => errorOf(toThread((n: number) => n * factor, 2)));
    expect(error).toBeInstanceOf(ReferenceError);
    expect(error.message).toBe(
      'factor is not defined: the function runs in a worker thread, with no access to the variables around it (closures, imports, module constants). Pass factor as an argument (toThread(fn, factor) with a matching parameter), or put the code in a module and run it as a module job ({ module: new URL("./jobs.ts", import.meta.url), name: "..." })',
    );
    expect(error.stack).toContain("factor is not defined: the function runs in a worker thread");
  });

  it("names the function in the closure message when it has a name", async () => {
    const limit = 10;
    function countTo(): number {
      return limit;
    }
    const error = await rrun(() => errorOf(toThread(countTo)));
    expect(error.message).toMatch(
      /^limit is not defined: function countTo runs in a worker thread/,
    );
  });

  it("native, bound and class functions are refused at once with a TypeError", async () => {
    await rrun(async () => {
      expect(() => toThread(Math.max, 1, 2)).toThrow(
        'toThread(): "fn" must be a function written in JavaScript (a native or bound function cannot be sent to a thread), got function max',
      );
      const bound = ((n: number) => n).bind(null);
      expect(() => toThread(bound, 1)).toThrow(TypeError);
      class Job {}
      expect(() => toThread(Job as never)).toThrow('"fn" must be a function, not a class');
      expect(() => toThread(42 as never)).toThrow(
        'toThread(): "job" must be a function, { fn } or { module, name }, got 42 (number)',
      );
    });
  });

  it("an argument that cannot be cloned fails the job with a TypeError", async () => {
    const error = await rrun(() =>
      errorOf(
        toThread(
          (f: unknown) => typeof f,
          () => 1,
        ),
      ),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/^toThread\(\): the arguments cannot be sent to a worker thread/);
  });

  it("a result that cannot be cloned fails the job with a TypeError", async () => {
    const error = await rrun(() => errorOf(toThread(() => () => 1)));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/^toThread\(\): the job's result cannot be sent back/);
  });

  it("outside run() it throws RuntimeError", () => {
    expect(() => toThread(() => 1)).toThrow(RuntimeError);
  });
});

describe("toThread: errors from the thread", () => {
  it("keep name, message, stack and fields; built-in classes are rebuilt", async () => {
    const error = await rrun(() =>
      errorOf(
        toThread(function explode() {
          const e = new TypeError("bad input") as TypeError & { code: string };
          e.code = "E_BAD";
          throw e;
        }),
      ),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(error.name).toBe("TypeError");
    expect((error as Error & { code?: string }).code).toBe("E_BAD");
    expect(error.stack).toMatch(/^TypeError: bad input\n/);
    expect(error.stack).toContain("aiots-thread:explode");
  });

  it("a custom error class arrives as an Error with its name and fields", async () => {
    const error = await rrun(() => errorOf(toThread({ module: jobs, name: "validate" }, 7)));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("ValidationError");
    expect(error.message).toBe("invalid value: 7");
    expect((error as Error & { code?: string }).code).toBe("E_INVALID");
    expect(error.stack).toContain("thread-jobs.ts");
  });

  it("aiots errors come back as themselves (by name); cause and AggregateError members too", async () => {
    const [timeoutError, aggregate, thrown] = await rrun(() =>
      gather(
        errorOf(
          toThread(() => {
            const e = new Error("deadline");
            e.name = "TimeoutError";
            throw new Error("outer", { cause: e });
          }),
        ),
        errorOf(
          toThread(() => {
            throw new AggregateError([new TypeError("a"), new RangeError("b")], "both");
          }),
        ),
        errorOf(
          toThread(() => {
            throw "a string"; // eslint-disable-line -- a thrown non-Error value
          }),
        ),
      ),
    );
    expect(timeoutError.message).toBe("outer");
    expect(timeoutError.cause).toBeInstanceOf(TimeoutError);
    expect(aggregate).toBeInstanceOf(AggregateError);
    const members = (aggregate as AggregateError).errors;
    expect(members[0]).toBeInstanceOf(TypeError);
    expect(members[1]).toBeInstanceOf(RangeError);
    expect(thrown).toBe("a string");
  });
});

describe("toThread: module jobs", () => {
  it("runs a named export of a .ts module with imports", async () => {
    const digest = await rrun(() => toThread<string>({ module: jobs, name: "sha256" }, "abc"));
    expect(digest).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("the default export by default; an async export; a path instead of a URL", async () => {
    const results = await rrun(() =>
      gather(
        toThread({ module: jobs }, 21),
        toThread({ module: jobs, name: "later" }, "done", 5),
        toThread({ module: jobs.pathname }, 5),
      ),
    );
    expect(results).toEqual([42, "done", 10]);
  });

  it("a missing export, a non-function export and a relative path are explained", async () => {
    const [missing, notFn] = await rrun(() =>
      gather(
        errorOf(toThread({ module: jobs, name: "nope" })),
        errorOf(toThread({ module: jobs, name: "notAFunction" })),
      ),
    );
    expect(missing).toBeInstanceOf(TypeError);
    expect(missing.message).toBe(`module job: export "nope" of ${jobs.href} is no such export`);
    expect(notFn.message).toBe(
      `module job: export "notAFunction" of ${jobs.href} is a number, not a function`,
    );
    await rrun(async () => {
      expect(() => toThread({ module: "./fixtures/thread-jobs.ts" })).toThrow(RangeError);
    });
  });

  it("a module that cannot be loaded fails the job", async () => {
    const error = await rrun(() =>
      errorOf(toThread({ module: new URL("./fixtures/no-such-module.ts", import.meta.url) })),
    );
    expect(error.message).toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND/);
  });
});

describe("transfer", () => {
  it("moves an argument's buffer to the thread instead of copying it", async () => {
    const bytes = new Uint8Array(1024).fill(7);
    const sum = await rrun(() =>
      toThread((b: Uint8Array) => b.reduce((a, x) => a + x, 0), transfer(bytes)),
    );
    expect(sum).toBe(7 * 1024);
    expect(bytes.byteLength).toBe(0); // detached: it was moved
  });

  it("moves a result back with this.transfer() in a function job, or transfer() in a module", async () => {
    const [inverted, filled] = await rrun(() =>
      gather(
        toThread(
          function (p: Uint8Array) {
            for (let i = 0; i < p.length; i++) p[i] = 255 - (p[i] as number);
            return this.transfer(p);
          },
          transfer(new Uint8Array([0, 1, 2])),
        ),
        toThread<Uint8Array>({ module: jobs, name: "filled" }, 4, 9),
      ),
    );
    expect([...inverted]).toEqual([255, 254, 253]);
    expect([...filled]).toEqual([9, 9, 9, 9]);
  });

  it("an explicit list moves the buffers inside an object", async () => {
    const a = new ArrayBuffer(8);
    const b = new ArrayBuffer(16);
    const sizes = await rrun(() =>
      toThread(
        (o: { a: ArrayBuffer; b: ArrayBuffer }) => [o.a.byteLength, o.b.byteLength],
        transfer({ a, b }, [a, b]),
      ),
    );
    expect(sizes).toEqual([8, 16]);
    expect(a.byteLength + b.byteLength).toBe(0);
  });

  it("needs a list for a value that is not a buffer or a port", () => {
    expect(() => transfer({ x: 1 })).toThrow(TypeError);
    expect(() => transfer({ x: 1 })).toThrow(/transfer\(\): "transferList" must be given/);
  });
});

describe("toThread: cancellation", () => {
  it("cancelling the awaiting task stops the running job (its worker is terminated)", async () => {
    const flags = sharedFlags();
    await rrun(async () => {
      const task = createTask(() => toThread(spinThenMark, flags, 400));
      await until(() => Atomics.load(flags, 0) === 1); // it is running
      task.cancel();
      const error = await errorOf(task);
      expect(error).toBeInstanceOf(CancelledError);
      await sleep(600); // past the moment the job would have finished
      expect(Atomics.load(flags, 1)).toBe(0);
      // The pool goes on with a fresh worker.
      expect(await toThread((n: number) => n + 1, 1)).toBe(2);
    });
  });

  it("a timeout around toThread really stops the work", async () => {
    const flags = sharedFlags();
    await rrun(async () => {
      await toThread(() => 0); // a worker is up: the job starts at once
      const t0 = performance.now();
      const error = await errorOf(timeout(100, () => toThread(spinThenMark, flags, 500)));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(performance.now() - t0).toBeLessThan(450);
      await sleep(700);
      expect(Atomics.load(flags, 0)).toBe(1);
      expect(Atomics.load(flags, 1)).toBe(0);
    });
  });

  it('onCancel "finish" keeps asyncio\'s behaviour: the job finishes, its result is dropped', async () => {
    const flags = sharedFlags();
    await rrun(async () => {
      const task = createTask(() => toThread({ fn: spinThenMark, onCancel: "finish" }, flags, 150));
      await until(() => Atomics.load(flags, 0) === 1);
      task.cancel();
      expect(isCancelled(await errorOf(task))).toBe(true);
      await until(() => Atomics.load(flags, 1) === 1); // it ran to the end
    });
  });

  it("a job that has not started is removed, in both modes", async () => {
    const first = sharedFlags();
    const second = sharedFlags();
    const third = sharedFlags();
    await rrun(async () => {
      const pool = new WorkerPool({ size: 1 });
      const a = pool.submit(spinThenMark, first, 150);
      const b = pool.submit(spinThenMark, second, 1);
      const c = pool.submit({ fn: spinThenMark, onCancel: "finish" }, third, 1);
      await until(() => Atomics.load(first, 0) === 1);
      expect(b.cancel()).toBe(true);
      expect(c.cancel()).toBe(true);
      expect(await a).toBe("finished");
      await pool.shutdown();
      expect(Atomics.load(second, 0)).toBe(0);
      expect(Atomics.load(third, 0)).toBe(0);
      expect(pool.statistics()).toMatchObject({ cancelled: 2, completed: 1, terminated: 0 });
    });
  });

  it("jobs queued behind a stopped job run elsewhere, exactly once", async () => {
    const victim = sharedFlags();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    await rrun(async () => {
      const pool = new WorkerPool({ size: 1 });
      const stopped = pool.submit(spinThenMark, victim, 2000);
      const rest = Array.from({ length: 5 }, (_, i) =>
        pool.submit(
          (c: Int32Array, n: number) => {
            Atomics.add(c, 0, 1);
            return n;
          },
          counter,
          i,
        ),
      );
      await until(() => Atomics.load(victim, 0) === 1);
      stopped.cancel();
      expect(await gather(rest)).toEqual([0, 1, 2, 3, 4]);
      expect(Atomics.load(counter, 0)).toBe(5);
      expect(pool.statistics()).toMatchObject({ terminated: 1, crashed: 0, completed: 5 });
      await pool.shutdown();
    });
  });
});

describe("loop.runInExecutor", () => {
  it("runs on the default pool with null, and on a given pool", async () => {
    await rrun(async () => {
      const loop = getRunningLoop();
      expect(await loop.runInExecutor(null, (a: number, b: number) => a * b, 6, 7)).toBe(42);
      const pool = new WorkerPool({ size: 1 });
      expect(await loop.runInExecutor(pool, { module: jobs }, 4)).toBe(8);
      await pool.shutdown();
    });
  });

  it("refuses an executor that is not a WorkerPool, and null after shutdownDefaultExecutor()", async () => {
    await rrun(async () => {
      const loop = getRunningLoop();
      expect(() => loop.runInExecutor({} as never, () => 1)).toThrow(
        'loop.runInExecutor(): "executor" must be a WorkerPool or null, got an instance of Object',
      );
      await loop.shutdownDefaultExecutor();
      expect(() => loop.runInExecutor(null, () => 1)).toThrow("Executor shutdown has been called");
      expect(() => toThread(() => 1)).toThrow(RuntimeError);
    });
  });

  it("run() shuts the default pool down: its worker threads are gone when run() returns", async () => {
    const threads = (): number => {
      try {
        return readdirSync("/proc/self/task").length;
      } catch {
        return -1;
      }
    };
    await rrun(() => toThread(() => 0)); // warm-up: the process's own helper threads start
    const before = threads();
    let during = 0;
    await rrun(async () => {
      await gather(
        toThread(() => 1),
        toThread(() => 2),
      );
      during = threads();
    });
    const after = threads();
    if (before === -1) return; // no /proc: nothing to count
    expect(during).toBeGreaterThan(before);
    expect(after).toBe(before);
  });
});
