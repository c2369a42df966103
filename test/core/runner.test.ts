/**
 * `run()` and `Runner`: the RUN cases of the asyncio behaviour catalogue (CPython's
 * test_runners.py). These tests drive `run()` themselves, each on a fresh virtual clock.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CancelledError,
  createTask,
  currentTask,
  type ExceptionContext,
  type Future,
  getRunningLoop,
  isCancelled,
  KeyboardInterrupt,
  type Loop,
  Runner,
  RuntimeError,
  run,
  sleep,
  type Task,
} from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";
import { ticks } from "../helpers/run.ts";
import { caught, ValueError, ZeroDivisionError } from "../helpers/timeouts-helpers.ts";

/** Options for a run on virtual time, without touching the process's SIGINT handling. */
function opts(): { clock: VirtualClock; handleSignals: false } {
  return { clock: new VirtualClock(), handleSignals: false };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("run", () => {
  it("RUN-01: returns main's result", async () => {
    const result = await run(async () => {
      await sleep(0);
      return 42;
    }, opts());
    expect(result).toBe(42);
  });

  it("RUN-01: propagates main's error (the same object)", async () => {
    const spam = new ValueError("spam");
    const error = await caught(
      run(async () => {
        await sleep(0);
        throw spam;
      }, opts()),
    );
    expect(error).toBe(spam);
  });

  it("RUN-01: a main that is not a function, or does not return a promise, is a TypeError", async () => {
    const notFunction = await caught(() => run(1 as never, opts()));
    expect(notFunction).toBeInstanceOf(TypeError);
    expect((notFunction as Error).message).toMatch(/"main".*1 \(number\)/);
    const notPromise = await caught(() => run((() => null) as never, opts()));
    expect(notPromise).toBeInstanceOf(TypeError);
    expect((notPromise as Error).message).toMatch(/promise/);
  });

  it("RUN-ARGS: bad options are a TypeError naming the option and the value", async () => {
    const main = async (): Promise<number> => 1;
    const cases: [unknown, RegExp][] = [
      [5, /"options".*5 \(number\)/],
      [{ debug: "yes" }, /"debug".*"yes" \(string\)/],
      [{ handleSignals: 1 }, /"handleSignals".*1 \(number\)/],
    ];
    for (const [options, message] of cases) {
      const error = await caught(() => run(main, options as never));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(message);
    }
    expect(() => new Runner({ debug: 1 as never })).toThrow(/"debug".*1 \(number\)/);
    const runner = new Runner(opts());
    const error = await caught(() => runner.run("main" as never));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/"main".*"main" \(string\)/);
    await runner.close();
  });

  it("RUN-02: debug: true turns debug mode on inside main", async () => {
    expect(await run(async () => getRunningLoop().getDebug(), { ...opts(), debug: true })).toBe(
      true,
    );
  });

  it("RUN-02: debug: false forces it off even when the global debug setting is on", async () => {
    vi.stubEnv("AIOTS_DEBUG", "1");
    expect(await run(async () => getRunningLoop().getDebug(), { ...opts(), debug: false })).toBe(
      false,
    );
  });

  it("RUN-02: without the option, debug follows the global setting (AIOTS_DEBUG)", async () => {
    vi.stubEnv("AIOTS_DEBUG", "1");
    expect(await run(async () => getRunningLoop().getDebug(), opts())).toBe(true);
    vi.stubEnv("AIOTS_DEBUG", "");
    expect(await run(async () => getRunningLoop().getDebug(), opts())).toBe(false);
  });

  it("RUN-03: run() and Runner.run() inside a running loop are RuntimeErrors; nothing runs", async () => {
    await run(async () => {
      let called = false;
      const nested = await caught(() =>
        run(async () => {
          called = true;
        }, opts()),
      );
      expect(nested).toBeInstanceOf(RuntimeError);
      expect((nested as Error).message).toMatch(/cannot be called from a running event loop/);
      const runner = new Runner(opts());
      const fromRunner = await caught(() =>
        runner.run(async () => {
          called = true;
        }),
      );
      expect(fromRunner).toBeInstanceOf(RuntimeError);
      expect((fromRunner as Error).message).toMatch(
        /Runner\.run\(\) cannot be called from a running event loop/,
      );
      await ticks();
      expect(called).toBe(false);
      await runner.close();
    }, opts());
  });

  it("RUN-04 [CORE]: leftover tasks are cancelled (and done) when run() returns", async () => {
    let leftover: Task<void> | undefined;
    const result = await run(async () => {
      leftover = createTask(() => sleep(100));
      return 123;
    }, opts());
    expect(result).toBe(123);
    expect(leftover?.done()).toBe(true);
    expect(leftover?.cancelled()).toBe(true);
  });

  it("RUN-04: a leftover task that already runs gets CancelledError and its cleanup runs", async () => {
    let leftover: Task<void> | undefined;
    let cleaned = false;
    let sawCancel = false;
    const clock = new VirtualClock();
    const result = await run(
      async () => {
        leftover = createTask(async () => {
          try {
            await sleep(100);
          } catch (e) {
            sawCancel = isCancelled(e);
            throw e;
          } finally {
            await sleep(0); // cleanup may still await
            cleaned = true;
          }
        });
        await sleep(1);
        return "main";
      },
      { clock, handleSignals: false },
    );
    expect(result).toBe("main");
    expect(sawCancel).toBe(true);
    expect(cleaned).toBe(true);
    expect(leftover?.cancelled()).toBe(true);
    expect(clock.now()).toBe(1);
  });

  it("RUN-04: tasks spawned during the shutdown are cancelled too", async () => {
    let spawned: Task<void> | undefined;
    let leftover: Task<void> | undefined;
    await run(async () => {
      leftover = createTask(async () => {
        try {
          await sleep(100);
        } catch (e) {
          spawned = createTask(() => sleep(1000));
          throw e;
        }
      });
      await sleep(1);
    }, opts());
    expect(leftover?.cancelled()).toBe(true);
    expect(spawned?.done()).toBe(true);
    expect(spawned?.cancelled()).toBe(true);
  });

  it("RUN-05: a leftover task failing when cancelled is reported through the loop exception handler", async () => {
    const log: ExceptionContext[] = [];
    let leftover: Task<void> | undefined;
    const result = await run(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => log.push(context));
      leftover = createTask(async () => {
        try {
          await sleep(100);
        } catch (e) {
          throw new ZeroDivisionError("on cancel", { cause: e });
        }
      });
      return 123;
    }, opts());
    expect(result).toBe(123);
    expect(leftover?.done()).toBe(true);
    expect(log).toHaveLength(1);
    const [report] = log as [ExceptionContext];
    expect(report.message).toMatch(/run.*shutdown/);
    expect(report.task).toBe(leftover);
    expect(report.exception).toBeInstanceOf(ZeroDivisionError);
  });

  it("RUN-05: a task error nobody retrieved is reported once when run() ends", async () => {
    const log: ExceptionContext[] = [];
    let failed: Task<void> | undefined;
    const boom = new ZeroDivisionError("never retrieved");
    await run(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => log.push(context));
      failed = createTask(async () => {
        throw boom;
      });
      await sleep(10);
    }, opts());
    expect(log).toHaveLength(1);
    const [report] = log as [ExceptionContext];
    expect(report.message).toMatch(/never retrieved/);
    expect(report.exception).toBe(boom);
    expect(report.task).toBe(failed);
  });

  it("RUN-05: a retrieved task error and a clean leftover are not reported", async () => {
    const log: ExceptionContext[] = [];
    await run(async () => {
      getRunningLoop().setExceptionHandler((_loop, context) => log.push(context));
      const failed = createTask(async () => {
        throw new ZeroDivisionError("retrieved");
      });
      await caught(failed);
      createTask(() => sleep(1000));
    }, opts());
    expect(log).toEqual([]);
  });

  it("RUN-06: main failing with a leftover task iterating an async generator: the generator is finalized", async () => {
    class FancyExit extends Error {
      override name = "FancyExit";
    }
    const log: ExceptionContext[] = [];
    let spinner: AsyncGenerator<number> | undefined;
    let finalized = false;
    let lazyboi: Task<void> | undefined;
    async function* fidget(): AsyncGenerator<number> {
      try {
        for (;;) {
          yield 1;
          await sleep(1000);
        }
      } finally {
        finalized = true;
      }
    }
    const spin = async (): Promise<void> => {
      spinner = fidget();
      try {
        for await (const _ of spinner) {
          // spin
        }
      } catch (e) {
        if (isCancelled(e)) throw new ZeroDivisionError("1 / 0", { cause: e });
        throw e;
      }
    };
    const fancy = new FancyExit("bye");
    const error = await caught(
      run(async () => {
        getRunningLoop().setExceptionHandler((_loop, context) => log.push(context));
        lazyboi = createTask(spin);
        throw fancy;
      }, opts()),
    );
    expect(error).toBe(fancy);
    expect(lazyboi?.done()).toBe(true);
    expect(spinner).toBeDefined();
    expect(finalized).toBe(true);
    expect(await spinner?.next()).toEqual({ done: true, value: undefined });
    expect(log).toHaveLength(1);
    expect(log[0]?.exception).toBeInstanceOf(ZeroDivisionError);
    expect(log[0]?.task).toBe(lazyboi);
  });
});

describe("Runner", () => {
  it("RUN-08: run() gives the result; after close(), the runner refuses to work and the loop is closed", async () => {
    const runner = new Runner(opts());
    expect(
      await runner.run(async () => {
        await sleep(0);
        return "done";
      }),
    ).toBe("done");
    const loop = runner.getLoop();
    expect(loop.isClosed()).toBe(false);
    await runner.close();
    expect(loop.isClosed()).toBe(true);
    expect(() => runner.getLoop()).toThrow(RuntimeError);
    expect(() => runner.getLoop()).toThrow(/Runner is closed/);
    await runner.close(); // a second close is fine
    let ran = false;
    const error = await caught(() =>
      runner.run(async () => {
        ran = true;
      }),
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as Error).message).toMatch(/Runner is closed/);
    expect(ran).toBe(false);
  });

  it("RUN-08: the runs of one runner share its loop, and tasks live on between runs", async () => {
    const runner = new Runner(opts());
    const loops: Loop[] = [];
    let task: Task<string> | undefined;
    await runner.run(async () => {
      loops.push(getRunningLoop());
      task = createTask(() => sleep(100, "x"));
    });
    const value = await runner.run(async () => {
      loops.push(getRunningLoop());
      if (task === undefined) throw new Error("no task");
      return await task;
    });
    expect(value).toBe("x");
    expect(loops[0]).toBe(loops[1]);
    expect(loops[0]).toBe(runner.getLoop());
    await runner.close();
  });

  it("RUN-08: close() cancels what is left, and Symbol.asyncDispose closes", async () => {
    const runner = new Runner(opts());
    let leftover: Task<void> | undefined;
    await runner.run(async () => {
      leftover = createTask(() => sleep(1000));
    });
    expect(leftover?.done()).toBe(false);
    await runner[Symbol.asyncDispose]();
    expect(leftover?.cancelled()).toBe(true);
    expect(() => runner.getLoop()).toThrow(/Runner is closed/);
  });

  it("RUN-10 (deviation): each run starts from the caller's async context; a run's changes stay in it", async () => {
    // asyncio shares one mutable Context across Runner.run() calls; AsyncLocalStorage has no
    // mutable context object to share, so each main task copies the caller's context, as
    // create_task does (docs/asyncio-differences.md).
    const cvar = new AsyncLocalStorage<number>();
    const f = (v: number) => async (): Promise<number> => {
      const old = cvar.getStore() ?? -1;
      cvar.enterWith(v);
      return old;
    };
    const runner = new Runner(opts());
    try {
      expect(await runner.run(f(1))).toBe(-1);
      expect(await runner.run(f(2))).toBe(-1);
      const captured = await cvar.run(7, () => runner.run(async () => cvar.getStore()));
      expect(captured).toBe(7);
    } finally {
      await runner.close();
    }
    // The caller's context is untouched.
    expect(cvar.getStore()).toBeUndefined();
  });

  describe("SIGINT", () => {
    it("RUN-11: an interrupt cancels a main task spinning on sleep(0); run() raises KeyboardInterrupt", async () => {
      const before = process.listenerCount("SIGINT");
      let sawCancel = false;
      let spins = 0;
      const error = await caught(
        run(
          async () => {
            expect(process.listenerCount("SIGINT")).toBe(before + 1);
            getRunningLoop().callSoon(() => process.emit("SIGINT"));
            try {
              for (;;) {
                await sleep(0);
                spins++;
              }
            } catch (e) {
              sawCancel = isCancelled(e);
              throw e;
            }
          },
          { clock: new VirtualClock(), handleSignals: true },
        ),
      );
      expect(error).toBeInstanceOf(KeyboardInterrupt);
      expect(sawCancel).toBe(true);
      expect(spins).toBeLessThan(5);
      expect(process.listenerCount("SIGINT")).toBe(before);
    });

    it("RUN-11: an interrupt cancels a main task blocked on a future (the future too)", async () => {
      const before = process.listenerCount("SIGINT");
      let fut: Future<void> | undefined;
      const runner = new Runner({ clock: new VirtualClock(), handleSignals: true });
      const error = await caught(
        runner.run(async () => {
          const loop = getRunningLoop();
          fut = loop.createFuture<void>();
          loop.callSoon(() => process.emit("SIGINT"));
          await fut;
        }),
      );
      expect(error).toBeInstanceOf(KeyboardInterrupt);
      expect(fut?.cancelled()).toBe(true);
      expect(process.listenerCount("SIGINT")).toBe(before);
      await runner.close();
    });

    it("RUN-11: a main task already cancelled by user code when the interrupt arrives: CancelledError", async () => {
      const error = await caught(
        run(
          async () => {
            const main = currentTask();
            createTask(async () => {
              await sleep(0);
              main?.cancel();
              process.emit("SIGINT");
            });
            await sleep(10_000);
          },
          { clock: new VirtualClock(), handleSignals: true },
        ),
      );
      expect(error).toBeInstanceOf(CancelledError);
      expect(error).not.toBeInstanceOf(KeyboardInterrupt);
    });

    it("RUN-11: the interrupt count is per run: a later run that cancels itself raises CancelledError", async () => {
      const runner = new Runner({ clock: new VirtualClock(), handleSignals: true });
      try {
        const first = await caught(
          runner.run(async () => {
            getRunningLoop().callSoon(() => process.emit("SIGINT"));
            await sleep(10_000);
          }),
        );
        expect(first).toBeInstanceOf(KeyboardInterrupt);
        // No interrupt in this run: a self-cancelled main is a plain CancelledError.
        const second = await caught(
          runner.run(async () => {
            currentTask()?.cancel();
            await sleep(0);
          }),
        );
        expect(second).toBeInstanceOf(CancelledError);
        expect(second).not.toBeInstanceOf(KeyboardInterrupt);
      } finally {
        await runner.close();
      }
    });

    it("RUN-11: without signal handling, run() installs no SIGINT listener", async () => {
      const before = process.listenerCount("SIGINT");
      const during = await run(async () => process.listenerCount("SIGINT"), opts());
      expect(during).toBe(before);
      // The default installs one only when nobody else listens: with a listener present, none.
      const other = (): void => {};
      process.on("SIGINT", other);
      try {
        const withOther = await run(async () => process.listenerCount("SIGINT"), {
          clock: new VirtualClock(),
        });
        expect(withOther).toBe(before + 1);
      } finally {
        process.removeListener("SIGINT", other);
      }
    });
  });
});
