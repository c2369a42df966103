/**
 * What a person at a terminal sees and does: the progress display in a pseudo-terminal (util-linux
 * `script`), plain progress lines when stderr is not a terminal, and Ctrl-C (SIGINT): the first
 * one cancels cleanly (requests aborted, output flushed, summary printed, exit 130), a second
 * one ends the process at once.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLI,
  jsonLines,
  type Loopback,
  ROOT,
  serve,
  startCli,
  until,
} from "../helpers/loopback.ts";

function hasScript(): boolean {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Quote for sh -c. */
const sh = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

let site: Loopback;
beforeAll(async () => {
  // 60 pages that take 400 ms each; the index links to all of them.
  site = await serve((req, res) => {
    const path = req.url ?? "/";
    if (path === "/robots.txt") {
      res.writeHead(404).end();
      return;
    }
    const body =
      path === "/"
        ? Array.from({ length: 59 }, (_, i) => `<a href="/p/${i + 1}">${i + 1}</a>`).join("")
        : "leaf";
    const timer = setTimeout(
      () => {
        res.writeHead(200, { "content-type": "text/html" });
        res.end(`<html><body>${body}</body></html>`);
      },
      path === "/" ? 10 : 400,
    );
    res.on("close", () => clearTimeout(timer));
  });
});
afterAll(async () => {
  await site.close();
});

describe("progress display", () => {
  it.skipIf(!hasScript())("redraws one status line in place on a terminal", () => {
    const dir = mkdtempSync(join(tmpdir(), "aiots-pty-"));
    const output = join(dir, "out.jsonl");
    const command = [
      process.execPath,
      CLI,
      "crawl",
      "--demo-pages",
      "10",
      "--demo-latency",
      "300",
      "--output",
      output,
    ]
      .map(sh)
      .join(" ");
    // script gives the command a pseudo-terminal and copies what it shows to our stdout.
    const screen = execFileSync("script", ["-qfec", command, "/dev/null"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 20_000,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const redraws = screen.split("\r\x1b[2K").slice(1);
    expect(redraws.length).toBeGreaterThanOrEqual(3); // about every 100 ms for 600+ ms
    expect(redraws.at(-1)).toMatch(
      /^crawl: 10\/10 done · [\d.]+\/s · 0 in flight · 0 errors · 1 skipped · [\d.]+ KiB · [\d.]+ s\r?\n/,
    );
    expect(redraws[0]).toMatch(/^crawl: \d+\/\d+ done · /);
    expect(screen).toMatch(
      /crawl: 10 pages in [\d.]+ m?s \(10 ok, 0 failed, 1 skipped by robots.txt\)/,
    );
    // On the terminal the demo's lines go only to --output.
    expect(screen).not.toContain('"url"');
    expect(jsonLines(readFileSync(output, "utf8"))).toHaveLength(10);
  });

  it("prints plain lines when stderr is not a terminal; --quiet prints nothing", async () => {
    const { done } = startCli([
      "crawl",
      "--demo-pages",
      "10",
      "--demo-latency",
      "300",
      "--progress-interval",
      "100",
    ]);
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain("\x1b[");
    const progress = result.stderr.split("\n").filter((l) => /^crawl: \d+\/\d+ done · /.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    const quiet = await startCli(["crawl", "--demo-pages", "5", "--demo-latency", "10", "--quiet"])
      .done;
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
    expect(jsonLines(quiet.stdout)).toHaveLength(5);
  });
});

describe("Ctrl-C", () => {
  it("the first SIGINT aborts the requests in flight, keeps the output, prints the summary: exit 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aiots-sigint-"));
    const output = join(dir, "out.jsonl");
    const abandonedBefore = site.abandoned();
    const run = startCli(["crawl", `${site.origin}/`, "--output", output, "--concurrency", "5"]);
    // Wait until the first wave of pages has been written and the next is in flight.
    expect(
      await until(() => site.log.filter((l) => l.startsWith("GET /p/")).length >= 10, 10_000),
    ).toBe(true);
    const signalled = performance.now();
    run.child.kill("SIGINT");
    const result = await run.done;
    expect(performance.now() - signalled).toBeLessThan(2000);
    expect(result.code).toBe(130);
    expect(result.stderr).toMatch(
      /interrupted: \d+ pages not done; run the same command again to resume/,
    );
    expect(await until(() => site.abandoned() > abandonedBefore)).toBe(true);
    const lines = jsonLines<{ url: string; status: number }>(readFileSync(output, "utf8"));
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines.length).toBeLessThan(60);
    expect(lines.every((l) => l.status === 200)).toBe(true); // no aborted request was written
  });

  it("a second SIGINT ends the process at once", async () => {
    const child = spawn(process.execPath, [CLI, "crawl", `${site.origin}/`, "--quiet"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal })),
    );
    expect(await until(() => stdout.includes('"url"'), 10_000)).toBe(true);
    child.kill("SIGINT");
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    const { code, signal } = await exited;
    clearTimeout(timer);
    // Killed by the re-raised SIGINT, or (if the first one had already finished) exit 130.
    expect(signal === "SIGINT" || code === 130).toBe(true);
  });
});
