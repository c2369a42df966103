/**
 * WorkerPool: sizing, submit/map/shutdown, crashed workers replaced, jobs moved from a busy worker
 * to an idle one, and a process that exits by itself.
 */
import { execFile } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  gather,
  RuntimeError,
  run,
  sleep,
  WorkerCrashedError,
  WorkerPool,
} from "../src/index.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

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

function spin(ms: number): number {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // busy
  }
  return ms;
}

describe("WorkerPool: options", () => {
  it("size defaults to the number of cores; bad options are refused", () => {
    expect(new WorkerPool().size).toBe(availableParallelism());
    expect(new WorkerPool({ size: 3 }).size).toBe(3);
    expect(() => new WorkerPool({ size: 0 })).toThrow(
      'new WorkerPool(): "size" must be an integer >= 1, got 0 (number)',
    );
    expect(() => new WorkerPool({ size: "2" as never })).toThrow(TypeError);
    expect(() => new WorkerPool({ name: 5 as never })).toThrow(TypeError);
    expect(() => new WorkerPool(null as never)).toThrow(TypeError);
  });

  it("starts no worker until a job comes, and no more than size", async () => {
    await rrun(async () => {
      const pool = new WorkerPool({ size: 2 });
      expect(pool.statistics()).toMatchObject({ workers: 0, started: 0 });
      const results = await gather(
        Array.from({ length: 50 }, (_, i) => pool.submit((n: number) => n + 1, i)),
      );
      expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(pool.statistics()).toMatchObject({ started: 2, completed: 50, queued: 0 });
      await pool.shutdown();
    });
  });
});

describe("WorkerPool: submit and map", () => {
  it("map yields results in order", async () => {
    await rrun(async () => {
      await using pool = new WorkerPool({ size: 2 });
      const out: number[] = [];
      // Later items are quicker: order comes from the iteration, not from completion.
      for await (const v of pool.map(
        (ms: number) => {
          const end = Date.now() + ms;
          while (Date.now() < end) {
            // busy
          }
          return ms;
        },
        [30, 20, 10, 0],
      )) {
        out.push(v);
      }
      expect(out).toEqual([30, 20, 10, 0]);
    });
  });

  it("leaving map early cancels the jobs not consumed; a failure ends it", async () => {
    await rrun(async () => {
      await using pool = new WorkerPool({ size: 1 });
      const seen: number[] = [];
      for await (const v of pool.map((n: number) => n, [1, 2, 3, 4, 5, 6])) {
        seen.push(v);
        if (v === 2) break;
      }
      expect(seen).toEqual([1, 2]);
      const error = await errorOf(
        (async () => {
          for await (const _ of pool.map(
            (n: number) => {
              if (n === 2) throw new RangeError(`bad ${n}`);
              return n;
            },
            [1, 2, 3],
          )) {
            // consume
          }
        })(),
      );
      expect(error).toBeInstanceOf(RangeError);
      expect(error.message).toBe("bad 2");
      expect(() => pool.map((n: number) => n, 5 as never).next()).toThrow(TypeError);
    });
  });

  it("an idle worker takes queued jobs from a busy one's line", async () => {
    await rrun(async () => {
      await using pool = new WorkerPool({ size: 2 });
      await gather(
        pool.submit(() => 0),
        pool.submit(() => 0),
      ); // both workers up
      const order: string[] = [];
      const slow = pool.submit(spin, 600);
      void slow.then(() => order.push("slow"));
      const quick = Array.from({ length: 12 }, (_, i) =>
        pool.submit((n: number) => n, i).then(() => order.push(`quick ${i}`)),
      );
      await gather(slow, ...quick);
      // All the quick jobs finished on the other worker, none waited for the slow one.
      expect(order.at(-1)).toBe("slow");
    });
  });
});

describe("WorkerPool: crashed workers", () => {
  it("process.exit() in a job fails it with WorkerCrashedError; the pool replaces the worker", async () => {
    await rrun(async () => {
      await using pool = new WorkerPool({ size: 1 });
      const error = await errorOf(pool.submit(() => process.exit(3)));
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect(error).toBeInstanceOf(RuntimeError);
      expect(error.name).toBe("WorkerCrashedError");
      expect((error as WorkerCrashedError).exitCode).toBe(3);
      expect(error.message).toBe(
        "The worker thread exited with code 3 (a job called process.exit()?), while running the job; the pool replaces it",
      );
      expect(await pool.submit((n: number) => n * 2, 4)).toBe(8);
      expect(pool.statistics()).toMatchObject({ crashed: 1, started: 2, failed: 1 });
    });
  });

  it("an error thrown outside the job (a timer) kills the worker: the job fails with it as cause", async () => {
    await rrun(async () => {
      await using pool = new WorkerPool({ size: 1 });
      const error = await errorOf(
        pool.submit(async () => {
          setTimeout(() => {
            throw new Error("boom in a timer");
          }, 1);
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }),
      );
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect(error.message).toMatch(/^The worker thread crashed: Error: boom in a timer, while/);
      expect((error.cause as Error).message).toBe("boom in a timer");
      expect(await pool.submit(() => "still working")).toBe("still working");
    });
  });

  it("a job that runs out of memory (resourceLimits) fails; the next job runs", async () => {
    await rrun(async () => {
      await using pool = new WorkerPool({
        size: 1,
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      });
      const error = await errorOf(
        pool.submit(() => {
          const hoard: number[][] = [];
          for (;;) hoard.push(Array.from({ length: 100_000 }, (_, i) => i));
        }),
      );
      expect(error).toBeInstanceOf(WorkerCrashedError);
      expect(error.message).toMatch(/ran out of memory/);
      expect((error.cause as { code?: string }).code).toBe("ERR_WORKER_OUT_OF_MEMORY");
      expect(await pool.submit(() => 1 + 1)).toBe(2);
    });
  });

  it("jobs waiting behind a crashed one run on the replacement", async () => {
    await rrun(async () => {
      await using pool = new WorkerPool({ size: 1 });
      await pool.submit(() => 0);
      const crash = pool.submit((ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          // busy, so that the next jobs wait in this worker's line
        }
        process.exit(1);
      }, 50);
      const after = Array.from({ length: 4 }, (_, i) => pool.submit((n: number) => n, i));
      expect(await errorOf(crash)).toBeInstanceOf(WorkerCrashedError);
      expect(await gather(after)).toEqual([0, 1, 2, 3]);
    });
  });
});

describe("WorkerPool: shutdown", () => {
  it("shutdown() waits for running jobs, then every worker has exited; no new jobs after", async () => {
    await rrun(async () => {
      const pool = new WorkerPool({ size: 2 });
      const job = pool.submit(spin, 100);
      await sleep(20);
      await pool.shutdown();
      expect(job.done()).toBe(true);
      expect(await job).toBe(100);
      expect(pool.statistics()).toMatchObject({ workers: 0, busy: 0, running: 0 });
      expect(() => pool.submit(() => 1)).toThrow("cannot schedule new futures after shutdown");
      await pool.shutdown(); // harmless
      expect(pool.toString()).toBe("<WorkerPool shut down size=2 workers=0 queued=0 running=0>");
    });
  });

  it("shutdown(false) returns at once; submitted jobs still finish", async () => {
    await rrun(async () => {
      const pool = new WorkerPool({ size: 1 });
      const jobs = [pool.submit(spin, 50), pool.submit(spin, 10)];
      const t0 = performance.now();
      await pool.shutdown(false);
      expect(performance.now() - t0).toBeLessThan(40);
      expect(await gather(jobs)).toEqual([50, 10]);
      await pool.shutdown(true);
      expect(pool.statistics().workers).toBe(0);
    });
  });

  it("cancelFutures cancels the jobs that have not started", async () => {
    await rrun(async () => {
      const pool = new WorkerPool({ size: 1 });
      await pool.submit(() => 0); // the worker is up: the next job starts at once
      const running = pool.submit(spin, 100);
      await sleep(30);
      const waiting = [pool.submit(spin, 10), pool.submit(spin, 10)];
      await pool.shutdown(true, { cancelFutures: true });
      expect(await running).toBe(100);
      for (const w of waiting) {
        expect(w.cancelled()).toBe(true);
        expect(await errorOf(w)).toBeInstanceOf(CancelledError);
      }
      expect(() => pool.shutdown("yes" as never)).toThrow(TypeError);
    });
  });

  it("a process using toThread and a pool it never shuts down exits by itself", async () => {
    const { stdout, ms } = await new Promise<{ stdout: string; ms: number }>((resolve, reject) => {
      const t0 = performance.now();
      execFile(
        process.execPath,
        ["test/fixtures/thread-exit.ts"],
        { cwd: root, timeout: 10_000, killSignal: "SIGKILL" },
        (error, out, stderr) => {
          if (error !== null) reject(new Error(`${error.message}\n${stderr}`));
          else resolve({ stdout: out, ms: performance.now() - t0 });
        },
      );
    });
    const [result, stats] = stdout.trimEnd().split("\n");
    expect(result).toBe("42 OK");
    expect(JSON.parse(stats as string)).toMatchObject({ workers: 1, busy: 0, completed: 1 });
    expect(ms).toBeLessThan(10_000);
  });
});
