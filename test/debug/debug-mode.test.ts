/**
 * Debug mode. The slow-step tests block the loop for real (that is what they detect), briefly
 * and with a low threshold; everything else runs on the virtual clock.
 */
import { describe, expect, it } from "vitest";
import { createTask, getRunningLoop, isCancelled, run, sleep } from "../../src/index.ts";
import { VirtualClock } from "../../src/testing/index.ts";

type Report = Record<string, unknown>;

async function collect(main: () => Promise<void>, debug = true): Promise<Report[]> {
  const reports: Report[] = [];
  await run(
    async () => {
      const loop = getRunningLoop();
      loop.setExceptionHandler((_loop, context) => reports.push({ ...context }));
      loop.slowCallbackDuration = 20;
      await main();
    },
    { debug, clock: new VirtualClock(), handleSignals: false },
  );
  return reports;
}

function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // the loop is blocked
  }
}

describe("debug mode", () => {
  it("reports a task that blocked the loop, with its name and where its code went on", async () => {
    const reports = await collect(async () => {
      const t = createTask(
        async function crunch() {
          block(40);
          await sleep(1);
        },
        { name: "cruncher" },
      );
      await t;
    });
    const slow = reports.filter((r) => /took \d+ ms without awaiting/.test(String(r.message)));
    expect(slow).toHaveLength(1);
    expect(String(slow[0]?.message)).toMatch(/name='cruncher' fn=crunch/);
    // The step ended at the sleep() right after the blocking code: that line is named.
    expect(String(slow[0]?.message)).toMatch(/it went on to .*debug-mode\.test\.ts:\d+:\d+\)$/);
  });

  it("reports a slow loop callback", async () => {
    const reports = await collect(async () => {
      getRunningLoop().callSoon(function slowCallback() {
        block(40);
      });
      await sleep(1);
    });
    expect(reports.map((r) => String(r.message))).toContainEqual(
      expect.stringMatching(/^Executing <Handle slowCallback\(\)> took \d+ ms$/),
    );
  });

  it("reports a task that swallowed a cancellation", async () => {
    const reports = await collect(async () => {
      const t = createTask(
        async function stubborn() {
          try {
            await sleep(1000);
          } catch (e) {
            if (!isCancelled(e)) throw e;
          }
        },
        { name: "stubborn" },
      );
      await sleep(1);
      t.cancel();
      await t;
    });
    expect(reports.map((r) => String(r.message))).toContainEqual(
      expect.stringMatching(/name='stubborn'.* swallowed a cancellation: .*cancelling\(\) = 1/),
    );
  });

  it("reports the tasks still pending when run() ends, with what each was waiting on", async () => {
    const reports = await collect(async () => {
      createTask(() => sleep(60_000), { name: "forgotten" });
      await sleep(1);
    });
    const pending = reports.filter((r) =>
      /still pending when run\(\) ended/.test(String(r.message)),
    );
    expect(pending).toHaveLength(1);
    expect(String(pending[0]?.task)).toMatch(/name='forgotten'/);
    expect(pending[0]?.awaiting).toBe("sleep until t=60000 ms");
  });

  it("reports nothing of the kind with debug off", async () => {
    const reports = await collect(async () => {
      createTask(() => sleep(60_000), { name: "forgotten" });
      const t = createTask(async () => {
        block(40);
        try {
          await sleep(1000);
        } catch {
          // swallowed
        }
      });
      await sleep(1);
      t.cancel();
      await t;
    }, false);
    expect(reports).toEqual([]);
  });

  it("is on with AIOTS_DEBUG=1 and forced off by debug: false", async () => {
    const saved = process.env.AIOTS_DEBUG;
    process.env.AIOTS_DEBUG = "1";
    try {
      expect(await run(async () => getRunningLoop().getDebug(), { handleSignals: false })).toBe(
        true,
      );
      expect(
        await run(async () => getRunningLoop().getDebug(), { debug: false, handleSignals: false }),
      ).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.AIOTS_DEBUG;
      else process.env.AIOTS_DEBUG = saved;
    }
  });
});
