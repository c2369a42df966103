import { describe, expect, it } from "vitest";
import { createTask, getRunningLoop, run, sleep, TimeoutError, timeout } from "../../src/index.ts";
import { VirtualClock, waitAllTasksBlocked } from "../../src/testing/index.ts";

describe("VirtualClock", () => {
  it("an hour of sleep takes no real time, and timeouts follow virtual time", async () => {
    const started = performance.now();
    const clock = new VirtualClock();
    const result = await run(
      async () => {
        await sleep(3_600_000);
        const t1 = getRunningLoop().time();
        const error = await timeout(100, () => sleep(10_000)).catch((e: unknown) => e);
        return [t1, error instanceof TimeoutError, getRunningLoop().time()];
      },
      { clock, handleSignals: false },
    );
    expect(result).toEqual([3_600_000, true, 3_600_100]);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it("gives the same interleaving every run", async () => {
    const once = (): Promise<string[]> =>
      run(
        async () => {
          const log: string[] = [];
          const worker = (name: string, delays: number[]) =>
            createTask(async () => {
              for (const d of delays) {
                await sleep(d);
                log.push(`${name}@${getRunningLoop().time()}`);
              }
            });
          await Promise.all([
            worker("a", [5, 10, 0, 7]),
            worker("b", [15, 0, 2]),
            worker("c", [3, 3, 3, 3]),
          ]);
          return log;
        },
        { clock: new VirtualClock(), handleSignals: false },
      );
    const first = await once();
    for (let i = 0; i < 5; i++) expect(await once()).toEqual(first);
    expect(first).toHaveLength(11);
  });

  it("without autojump time moves only by advance(); advanceToNextTimer jumps to the next deadline", async () => {
    const clock = new VirtualClock({ autojump: false, start: 1000 });
    await run(
      async () => {
        const loop = getRunningLoop();
        const fired: number[] = [];
        loop.callLater(50, () => fired.push(loop.time()));
        loop.callLater(200, () => fired.push(loop.time()));
        const sleeper = createTask(() => sleep(500, "late"));
        await waitAllTasksBlocked();
        expect(loop.time()).toBe(1000);
        clock.advance(60);
        await waitAllTasksBlocked();
        expect(fired).toEqual([1060]);
        expect(clock.advanceToNextTimer()).toBe(1200);
        await waitAllTasksBlocked();
        expect(fired).toEqual([1060, 1200]);
        expect(clock.advanceToNextTimer()).toBe(1500);
        expect(await sleeper).toBe("late");
        await waitAllTasksBlocked();
        expect(clock.advanceToNextTimer()).toBeNull();
      },
      { clock, handleSignals: false },
    );
  });

  it("waitAllTasksBlocked returns once the other tasks are all blocked", async () => {
    await run(
      async () => {
        const steps: number[] = [];
        createTask(async () => {
          for (let i = 0; i < 5; i++) {
            steps.push(i);
            await sleep(0);
          }
          await sleep(1000);
        });
        await waitAllTasksBlocked();
        expect(steps).toEqual([0, 1, 2, 3, 4]);
      },
      { clock: new VirtualClock(), handleSignals: false },
    );
  });

  it("rejects bad arguments with the argument's name", () => {
    expect(() => new VirtualClock({ start: Number.NaN })).toThrow(/"start"/);
    expect(() => new VirtualClock({ autojump: "yes" as never })).toThrow(/"autojump"/);
    expect(() => new VirtualClock().advance(-1)).toThrow(/"ms" must be >= 0/);
  });
});
