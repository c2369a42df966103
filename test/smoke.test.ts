import { describe, expect, it } from "vitest";
import { CancelledError, createTask, getRunningLoop, sleep } from "../src/index.ts";
import { now, ticks, vrun } from "./helpers/run.ts";

describe("smoke", () => {
  it("runs tasks on virtual time and cancels them at their await", async () => {
    const result = await vrun(async () => {
      const t = createTask(async () => {
        await sleep(10_000);
        return "never";
      });
      await sleep(10);
      t.cancel("stop");
      await expect(t).rejects.toBeInstanceOf(CancelledError);
      return now();
    });
    expect(result).toBe(10);
  });

  it("runs callSoon callbacks in FIFO order with timers after (LOOP-01)", async () => {
    const order = await vrun(async () => {
      const order: string[] = [];
      const loop = getRunningLoop();
      loop.callSoon(() => order.push("a"));
      loop.callLater(0, () => order.push("b"));
      loop.callSoon(() => order.push("c"));
      await ticks(1);
      return order;
    });
    expect(order).toEqual(["a", "c", "b"]);
  });
});
