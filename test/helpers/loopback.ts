/**
 * Test helpers for the HTTP client and the CLI: HTTP servers on 127.0.0.1 (a free port) that the
 * tests make misbehave, and a runner for the `aiots` command as a child process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { fileURLToPath } from "node:url";

export interface Loopback {
  /** "http://127.0.0.1:<port>" (no trailing slash). */
  origin: string;
  port: number;
  server: Server;
  /** Requests received, in order ("GET /path"). */
  log: string[];
  /** Connections opened so far. */
  connections: () => number;
  /** Requests whose client went away before the response was finished. */
  abandoned: () => number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Start a server on 127.0.0.1 with `handler`. */
export async function serve(handler: Handler): Promise<Loopback> {
  const log: string[] = [];
  let connections = 0;
  let abandoned = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    log.push(`${req.method} ${req.url}`);
    res.on("close", () => {
      if (!res.writableFinished) abandoned++;
    });
    handler(req, res);
  });
  server.on("connection", (socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    server,
    log,
    connections: () => connections,
    abandoned: () => abandoned,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Wait until `predicate()` holds, polling every 10 ms for at most `ms` (bounded). */
export async function until(predicate: () => boolean, ms = 2000): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 10) {
    if (predicate()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return predicate();
}

export const ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
export const CLI: string = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Start `aiots <args>` on the Node running the tests. */
export function startCli(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  child.stdin?.end(options.input ?? "");
  // Never outlive the test: a hung child is killed after 30 s.
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** Run `aiots <args>` to its end. */
export function runCli(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return startCli(args, options).done;
}

/** The JSON lines of an output. */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}
