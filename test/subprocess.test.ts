/**
 * Child processes (group SUB, and aiots's kill-on-cancel): every child is `process.execPath`
 * (or `/bin/sh` for the shell cases), on the real clock, each test bounded in time.
 */
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createTask,
  DEVNULL as ROOT_DEVNULL,
  PIPE as ROOT_PIPE,
  STDOUT as ROOT_STDOUT,
  RuntimeError,
  sleep,
  TimeoutError,
  timeout,
} from "../src/index.ts";
import {
  createSubprocessExec,
  createSubprocessShell,
  DEVNULL,
  PIPE,
  type Process,
  STDOUT,
} from "../src/subprocess/index.ts";
import { codeOf, rrun, until } from "./helpers/net.ts";
import { errorOf } from "./helpers/sync.ts";

const NODE = process.execPath;
/** A child that runs until it is killed. */
const FOREVER = "setInterval(() => {}, 1000)";
/** A child that ignores SIGTERM (and says so once it is ready). */
const STUBBORN =
  "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)";

/** Whether a process with this pid exists (a zombie counts: it has not been reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if (codeOf(error) === "ESRCH") return false;
    throw error;
  }
}

function node(
  code: string,
  options: Parameters<typeof createSubprocessExec>[2] = {},
): Promise<Process> {
  return createSubprocessExec(NODE, ["-e", code], options);
}

describe("subprocess: asyncio cases", () => {
  it("SUB-02: shell exit codes, also in a new session", async () => {
    await rrun(async () => {
      const proc = await createSubprocessShell("exit 7");
      expect(await proc.wait()).toBe(7);
      expect(proc.returncode).toBe(7);
      const session = await createSubprocessShell("exit 8", { startNewSession: true });
      expect(await session.wait()).toBe(8);
    });
  });

  it("SUB-02: text mode is refused: the pipes carry bytes", async () => {
    await rrun(async () => {
      for (const option of [{ text: true }, { universalNewlines: true }, { encoding: "utf8" }]) {
        const exec = await errorOf(createSubprocessExec(NODE, [], option as never));
        expect(exec).toBeInstanceOf(RangeError);
        expect((exec as Error).message).toContain(`"${Object.keys(option)[0]}"`);
        expect(await errorOf(createSubprocessShell("true", option as never))).toBeInstanceOf(
          RangeError,
        );
      }
    });
  });
});

describe("subprocess: pipes", () => {
  it("communicate() moves 5 MB each way on stdin, stdout and stderr without deadlock", async () => {
    const size = 5 * 1024 * 1024;
    const child = `
      const size = ${size};
      let got = 0;
      process.stdin.on("data", (d) => { got += d.length; });
      process.stdin.on("end", () => { process.exitCode = got === size ? 0 : 1; });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      for (const out of [process.stdout, process.stderr]) {
        let left = size;
        const pump = () => {
          while (left > 0) {
            left -= chunk.length;
            if (!out.write(chunk)) return out.once("drain", pump);
          }
        };
        pump();
      }`;
    await rrun(async () => {
      const proc = await node(child, { stdin: PIPE, stdout: PIPE, stderr: PIPE });
      const [out, err] = await timeout(15_000, () => proc.communicate(Buffer.alloc(size, 0x62)));
      expect(out?.length).toBe(size);
      expect(err?.length).toBe(size);
      expect(out?.every((b) => b === 0x61)).toBe(true);
      expect(proc.returncode).toBe(0);
    });
  });

  it("communicate() ignores a child that exits without reading its input; null for unpiped streams", async () => {
    await rrun(async () => {
      const proc = await node("process.exit(3)", { stdin: PIPE });
      const result = await timeout(10_000, () => proc.communicate(Buffer.alloc(4 * 1024 * 1024)));
      expect(result).toEqual([null, null]);
      expect(proc.returncode).toBe(3);
      const noStdin = await node("", { stdout: PIPE });
      expect(await errorOf(noStdin.communicate("input"))).toBeInstanceOf(RuntimeError);
      await noStdin.wait();
    });
  });

  it("stderr: STDOUT merges both streams in order; DEVNULL discards", async () => {
    await rrun(async () => {
      const code = "console.log('one'); console.error('two'); console.log('three')";
      const merged = await node(code, { stdout: PIPE, stderr: STDOUT });
      expect(merged.stderr).toBeNull();
      const [out] = await merged.communicate();
      expect(out?.toString()).toBe("one\ntwo\nthree\n");

      const shell = await createSubprocessShell("echo out; echo err >&2", {
        stdout: PIPE,
        stderr: STDOUT,
      });
      expect((await shell.communicate())[0]?.toString()).toBe("out\nerr\n");

      const quiet = await node(code, { stdout: DEVNULL, stderr: STDOUT });
      expect(await quiet.communicate()).toEqual([null, null]);

      const noInput = await node(
        "process.stdin.on('data', () => process.exit(1)).on('end', () => console.log('eof'))",
        {
          stdin: DEVNULL,
          stdout: PIPE,
        },
      );
      expect((await noInput.communicate())[0]?.toString()).toBe("eof\n");
    });
  });

  it("stdout is a StreamReader (lines with for await), stdin a StreamWriter", async () => {
    await rrun(async () => {
      const proc = await node(
        "process.stdin.on('data', (d) => process.stdout.write(String(d).toUpperCase()))",
        { stdin: PIPE, stdout: PIPE },
      );
      const stdin = proc.stdin;
      const stdout = proc.stdout;
      if (stdin === null || stdout === null) throw new Error("not piped");
      stdin.write("hello\n");
      await stdin.drain();
      expect((await stdout.readline()).toString()).toBe("HELLO\n");
      stdin.write("a\nb\n");
      stdin.close();
      const lines: string[] = [];
      for await (const line of stdout) lines.push(line.toString());
      expect(lines).toEqual(["A\n", "B\n"]);
      expect(await proc.wait()).toBe(0);
      expect(stdin.getExtraInfo("pipe")).toBe(stdin.transport);
    });
  });

  it("cwd and env are passed to the child", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "aiots-sub-")));
    try {
      await rrun(async () => {
        const proc = await node("console.log(process.cwd(), process.env.AIOTS_TEST_VAR)", {
          stdout: PIPE,
          cwd: dir,
          env: { AIOTS_TEST_VAR: "forty-two" },
        });
        expect((await proc.communicate())[0]?.toString()).toBe(`${dir} forty-two\n`);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("subprocess: signals and return codes", () => {
  it("returncode is minus the signal number when a signal ends the child", async () => {
    await rrun(async () => {
      for (const [send, expected] of [
        ["kill", -9],
        ["terminate", -15],
        ["SIGINT", -2],
        [1, -1],
      ] as const) {
        const proc = await node(FOREVER);
        expect(proc.returncode).toBeNull();
        if (send === "kill") proc.kill();
        else if (send === "terminate") proc.terminate();
        else proc.sendSignal(send);
        expect(await timeout(5000, () => proc.wait())).toBe(expected);
        expect(alive(proc.pid)).toBe(false);
        // Signalling an exited child does nothing.
        proc.kill();
      }
    });
  });

  it("several tasks can wait for the same child", async () => {
    await rrun(async () => {
      const proc = await node("setTimeout(() => process.exit(5), 50)");
      const waits = [createTask(() => proc.wait()), createTask(() => proc.wait())];
      expect(await Promise.all(waits)).toEqual([5, 5]);
      expect(await proc.wait()).toBe(5);
      expect(String(proc)).toBe(`<Process ${proc.pid} returncode=5>`);
    });
  });

  it("a program that does not exist is ENOENT", async () => {
    await rrun(async () => {
      const error = await errorOf(createSubprocessExec("/nonexistent/program-aiots", []));
      expect(codeOf(error)).toBe("ENOENT");
    });
  });

  it("checks its arguments", async () => {
    await rrun(async () => {
      expect(await errorOf(createSubprocessExec(5 as unknown as string))).toBeInstanceOf(TypeError);
      expect(await errorOf(createSubprocessExec(NODE, "-v" as unknown as string[]))).toBeInstanceOf(
        TypeError,
      );
      const stdout = await errorOf(createSubprocessExec(NODE, [], { stdout: STDOUT as never }));
      expect(stdout).toBeInstanceOf(RangeError);
      expect((stdout as Error).message).toContain('"stdout"');
      const signal = await errorOf(
        createSubprocessExec(NODE, [], { killSignal: "SIGNOPE" as never }),
      );
      expect((signal as Error).message).toContain('"killSignal"');
      const grace = await errorOf(createSubprocessExec(NODE, [], { killGrace: -1 }));
      expect((grace as Error).message).toContain('"killGrace"');
      const proc = await node("");
      expect(() => proc.sendSignal("SIGNOPE" as never)).toThrow(RangeError);
      await proc.wait();
    });
  });

  it("PIPE, STDOUT and DEVNULL are exported from aiots too", () => {
    expect([ROOT_PIPE, ROOT_STDOUT, ROOT_DEVNULL]).toEqual([PIPE, STDOUT, DEVNULL]);
  });
});

describe("subprocess: cancellation kills the child (beyond asyncio)", () => {
  it("wait() under a timeout: the child gets SIGTERM and is reaped before TimeoutError", async () => {
    await rrun(async () => {
      const proc = await node(FOREVER);
      expect(await errorOf(timeout(100, () => proc.wait()))).toBeInstanceOf(TimeoutError);
      expect(proc.returncode).toBe(-15);
      expect(alive(proc.pid)).toBe(false);
    });
  });

  it("a cancelled communicate() kills the child too, and closes its pipes", async () => {
    await rrun(async () => {
      const proc = await node(FOREVER, { stdin: PIPE, stdout: PIPE, stderr: PIPE });
      const task = createTask(() => proc.communicate("input"));
      await sleep(100);
      task.cancel();
      expect(await errorOf(task)).toBeInstanceOf(CancelledError);
      expect(proc.returncode).toBe(-15);
      expect(alive(proc.pid)).toBe(false);
      expect(proc.stdin?.isClosing()).toBe(true);
    });
  });

  it("a child that ignores SIGTERM gets SIGKILL after killGrace", async () => {
    await rrun(async () => {
      const proc = await node(STUBBORN, { stdout: PIPE, killGrace: 200 });
      expect((await proc.stdout?.readline())?.toString()).toBe("ready\n");
      const start = performance.now();
      expect(await errorOf(timeout(50, () => proc.wait()))).toBeInstanceOf(TimeoutError);
      expect(performance.now() - start).toBeGreaterThanOrEqual(200);
      expect(proc.returncode).toBe(-9);
      expect(alive(proc.pid)).toBe(false);
    });
  });

  it("a second cancellation during the grace period sends SIGKILL at once", async () => {
    await rrun(async () => {
      const proc = await node(STUBBORN, { stdout: PIPE, killGrace: 60_000 });
      await proc.stdout?.readline();
      const task = createTask(() => proc.wait());
      await sleep(20);
      task.cancel();
      await sleep(100);
      expect(task.done()).toBe(false);
      task.cancel();
      expect(await errorOf(timeout(5000, () => task))).toBeInstanceOf(CancelledError);
      expect(proc.returncode).toBe(-9);
    });
  });

  it("killSignal chooses the first signal", async () => {
    await rrun(async () => {
      const proc = await node(FOREVER, { killSignal: "SIGINT" });
      await errorOf(timeout(50, () => proc.wait()));
      expect(proc.returncode).toBe(-2);
    });
  });

  it("with killOnCancel: false the child runs on, as in asyncio", async () => {
    await rrun(async () => {
      const proc = await node(FOREVER, { killOnCancel: false });
      expect(await errorOf(timeout(50, () => proc.wait()))).toBeInstanceOf(TimeoutError);
      expect(proc.returncode).toBeNull();
      expect(alive(proc.pid)).toBe(true);
      proc.kill();
      expect(await proc.wait()).toBe(-9);
    });
  });

  it("run() ending stops and reaps the children still running", async () => {
    const pids: number[] = [];
    await rrun(async () => {
      for (let i = 0; i < 3; i++) pids.push((await node(FOREVER)).pid);
      // One that ignores SIGTERM, with a short grace period, and one nobody waits for.
      const stubborn = await node(STUBBORN, { stdout: PIPE, killGrace: 100 });
      await stubborn.stdout?.readline();
      pids.push(stubborn.pid);
      createTask(async () => {
        pids.push((await node(FOREVER, { killOnCancel: false })).pid);
        await sleep(60_000);
      });
      await until(() => pids.length === 5, 5000, "the last child");
    });
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });
});
