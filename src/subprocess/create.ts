/**
 * Starting child processes: `createSubprocessExec` and `createSubprocessShell`
 * (asyncio.create_subprocess_exec, asyncio.create_subprocess_shell).
 *
 * @module
 */
import { type ChildProcess, type SpawnOptions, type StdioOptions, spawn } from "node:child_process";
import type { Socket } from "node:net";
import { getRunningLoop } from "../core/context.ts";
import { Future } from "../core/future.ts";
import type { Loop } from "../core/loop.ts";
import { isCancelled, RuntimeError } from "../errors.ts";
import { checkLimit, StreamReader } from "../streams/stream-reader.ts";
import { StreamWriter } from "../streams/stream-writer.ts";
import { SocketTransport } from "../streams/transport.ts";
import { checkNumber, checkOptions, rangeError, typeError } from "../validate.ts";
import { DEVNULL, PIPE, STDOUT } from "./constants.ts";
import { checkSignal, type KillPolicy, type Pipes, Process, type Signal } from "./process.ts";

/**
 * Where a standard stream of the child goes: `PIPE` (a stream on the `Process`), `DEVNULL`,
 * `"inherit"` (the parent's, the default), or a file descriptor of the parent.
 */
export type Stdio = typeof PIPE | typeof DEVNULL | "inherit" | number | null | undefined;

/** Options of `createSubprocessExec` and `createSubprocessShell`. */
export interface SubprocessOptions {
  stdin?: Stdio;
  stdout?: Stdio;
  /** As `stdout`, or `STDOUT` to send it where stdout goes (in order, as the shell's `2>&1`). */
  stderr?: Stdio | typeof STDOUT;
  /** The working directory (default: the parent's). */
  cwd?: string | URL | undefined;
  /** The environment (default: the parent's `process.env`); it replaces, not extends. */
  env?: NodeJS.ProcessEnv | undefined;
  /** The line limit of the stdout/stderr readers (64 KiB). */
  limit?: number | undefined;
  /** Run the child in a new session (`setsid`), so that the terminal's signals skip it. */
  startNewSession?: boolean | undefined;
  /**
   * Stop the child when a task waiting for it in `wait()` or `communicate()` is cancelled
   * (default true). With false the child runs on, as in asyncio. Either way, children still
   * running when `run()` ends are stopped.
   */
  killOnCancel?: boolean | undefined;
  /** The first signal sent to stop the child (default `"SIGTERM"`). */
  killSignal?: Signal | undefined;
  /** Milliseconds between `killSignal` and SIGKILL (default 5000). */
  killGrace?: number | undefined;
  /** Aborting this signal sends `killSignal` to the child (as `child_process.spawn`'s). */
  signal?: AbortSignal | undefined;
}

const DEFAULT_KILL_GRACE = 5000;
/** Text-mode options of Python's `Popen`: asyncio rejects them, and so does aiots. */
const TEXT_OPTIONS = ["text", "universalNewlines", "encoding", "errors"] as const;

type NodeStdio = "pipe" | "ignore" | "inherit" | number;

function toStdio(where: string, name: string, value: unknown): NodeStdio {
  if (value === undefined || value === null || value === "inherit") return "inherit";
  if (value === PIPE) return "pipe";
  if (value === DEVNULL) return "ignore";
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  if (value === STDOUT) {
    throw rangeError(
      where,
      name,
      'PIPE, DEVNULL, "inherit" or a file descriptor (STDOUT is for stderr only)',
      value,
    );
  }
  throw typeError(where, name, 'PIPE, DEVNULL, "inherit" or a file descriptor', value);
}

interface Plan {
  /** stderr goes to a piped stdout: the shell must do it, as only a shell can dup the fd. */
  readonly mergeInShell: boolean;
  readonly limit: number;
  readonly policy: KillPolicy;
  readonly spawnOptions: SpawnOptions;
}

function plan(where: string, options: SubprocessOptions | undefined): Plan {
  checkOptions(where, options);
  const o = options ?? {};
  for (const name of TEXT_OPTIONS) {
    const value = (o as Record<string, unknown>)[name];
    if (value !== undefined && value !== null && value !== false) {
      throw rangeError(where, name, "false or absent (the pipes carry bytes only)", value);
    }
  }
  const stdin = toStdio(where, "stdin", o.stdin);
  const stdout = toStdio(where, "stdout", o.stdout);
  let stderr: NodeStdio;
  let mergeInShell = false;
  if (o.stderr === STDOUT) {
    if (stdout === "pipe") {
      if (process.platform === "win32") {
        throw new RuntimeError("stderr: STDOUT with stdout: PIPE is not supported on Windows");
      }
      mergeInShell = true;
      stderr = "ignore";
    } else {
      // The child's fd 2 is whatever its fd 1 is: inherit means the parent's fd 1.
      stderr = stdout === "inherit" ? 1 : stdout;
    }
  } else {
    stderr = toStdio(where, "stderr", o.stderr);
  }
  for (const name of ["startNewSession", "killOnCancel"] as const) {
    const value = o[name];
    if (value !== undefined && typeof value !== "boolean")
      throw typeError(where, name, "a boolean", value);
  }
  const killGrace = o.killGrace ?? DEFAULT_KILL_GRACE;
  checkNumber(where, "killGrace", killGrace);
  if (killGrace < 0) throw rangeError(where, "killGrace", "a number >= 0", killGrace);
  const policy: KillPolicy = {
    killOnCancel: o.killOnCancel ?? true,
    killSignal: checkSignal(where, "killSignal", o.killSignal ?? "SIGTERM"),
    killGrace,
  };
  const spawnOptions: SpawnOptions = {
    stdio: [stdin, stdout, stderr] as StdioOptions,
    detached: o.startNewSession ?? false,
    windowsHide: true,
    killSignal: policy.killSignal,
  };
  if (o.cwd !== undefined) spawnOptions.cwd = o.cwd;
  if (o.env !== undefined) {
    if (o.env === null || typeof o.env !== "object")
      throw typeError(where, "env", "an object", o.env);
    spawnOptions.env = o.env;
  }
  if (o.signal !== undefined) {
    if (!(o.signal instanceof AbortSignal))
      throw typeError(where, "signal", "an AbortSignal", o.signal);
    spawnOptions.signal = o.signal;
  }
  return {
    mergeInShell,
    limit: checkLimit(where, o.limit),
    policy,
    spawnOptions,
  };
}

function pipes(child: ChildProcess, loop: Loop, limit: number): Pipes {
  const reader = (stream: unknown): StreamReader | null => {
    if (stream === null || stream === undefined) return null;
    const r = new StreamReader({ limit });
    // Node's pipes to a child are net.Sockets (on a pipe handle, not a TCP one).
    new SocketTransport(stream as Socket, loop, r, { abortOnCancel: false, pipe: true });
    return r;
  };
  const stdin =
    child.stdin === null
      ? null
      : new StreamWriter(
          new SocketTransport(child.stdin as Socket, loop, undefined, {
            abortOnCancel: false,
            pipe: true,
          }),
          undefined,
        );
  return { stdin, stdout: reader(child.stdout), stderr: reader(child.stderr) };
}

/** Spawn, and wait (as a cancellation point) until the child is running. */
async function start(file: string, args: string[], p: Plan): Promise<Process> {
  const loop = getRunningLoop();
  const child = spawn(file, args, p.spawnOptions);
  const proc = new Process(child, loop, pipes(child, loop, p.limit), p.policy);
  const started = new Future<void>(loop);
  child.once("spawn", () => {
    if (!started.done()) started._resolve(undefined);
  });
  child.on("error", (error) => {
    if (!started.done()) {
      proc._failed();
      started._reject(error);
    }
  });
  try {
    await started;
  } catch (error) {
    if (isCancelled(error)) await proc._stop(true);
    throw error;
  }
  return proc;
}

/**
 * Run `program` with `args` (no shell), and return its `Process` once it is running.
 * Mirrors `asyncio.create_subprocess_exec`. The standard streams are inherited unless set to
 * `PIPE` (a stream on the `Process`), `DEVNULL`, or for stderr `STDOUT`.
 *
 * @throws the spawn error (`ENOENT` when `program` is not found, `EACCES`, ...).
 * @throws {RangeError} for text-mode options (`text`, `encoding`, ...): the pipes carry bytes.
 * @example
 * const proc = await createSubprocessExec(process.execPath, ["-e", "console.log(6 * 7)"], {
 *   stdout: PIPE,
 * });
 * const [out] = await proc.communicate();
 * console.log(out?.toString().trim(), proc.returncode); // 42 0
 */
export function createSubprocessExec(
  program: string,
  args: readonly string[] = [],
  options?: SubprocessOptions,
): Promise<Process> {
  const where = "createSubprocessExec()";
  try {
    if (typeof program !== "string" || program === "") {
      throw typeError(where, "program", "a non-empty string", program);
    }
    if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
      throw typeError(where, "args", "an array of strings", args);
    }
    const p = plan(where, options);
    if (p.mergeInShell) {
      // `exec` keeps the pid: the shell becomes the program, with fd 2 a copy of fd 1.
      return start("/bin/sh", ["-c", 'exec "$0" "$@" 2>&1', program, ...args], p);
    }
    return start(program, [...args], p);
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

/**
 * Run `cmd` with the shell (`/bin/sh -c`, `cmd.exe` on Windows), and return its `Process` once
 * the shell is running. Mirrors `asyncio.create_subprocess_shell`. Quote anything that comes
 * from outside, or use `createSubprocessExec`.
 *
 * @throws {RangeError} for text-mode options (`text`, `encoding`, ...): the pipes carry bytes.
 * @example
 * const proc = await createSubprocessShell("exit 7");
 * console.log(await proc.wait()); // 7
 */
export function createSubprocessShell(cmd: string, options?: SubprocessOptions): Promise<Process> {
  const where = "createSubprocessShell()";
  try {
    if (typeof cmd !== "string") throw typeError(where, "cmd", "a string", cmd);
    const p = plan(where, options);
    if (process.platform === "win32") {
      return start(cmd, [], { ...p, spawnOptions: { ...p.spawnOptions, shell: true } });
    }
    return start("/bin/sh", ["-c", p.mergeInShell ? `exec 2>&1\n${cmd}` : cmd], p);
  } catch (error) {
    return Promise.reject(error as Error);
  }
}
