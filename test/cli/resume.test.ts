/**
 * The resume guarantee: kill `aiots crawl` with SIGKILL mid-crawl, run the same command again,
 * and the output holds every URL of the site exactly once.
 */
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, type Loopback, runCli, serve, startCli, until } from "../helpers/loopback.ts";

/** A tree of pages: "/" has children /n/1../n/3, /n/k has children /n/3k+1../n/3k+3 (40 in all). */
const PAGES = 40;

let site: Loopback;
beforeAll(async () => {
  site = await serve((req, res) => {
    const path = req.url ?? "/";
    if (path === "/robots.txt") {
      res.writeHead(404).end();
      return;
    }
    const k = path === "/" ? 0 : Number(path.slice(3));
    const children = [1, 2, 3].map((i) => 3 * k + i).filter((c) => c < PAGES);
    const body = `<html><body>${children.map((c) => `<a href="/n/${c}">${c}</a>`).join("")}</body></html>`;
    const timer = setTimeout(() => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end(body);
    }, 60);
    res.on("close", () => clearTimeout(timer));
  });
});
afterAll(async () => {
  await site.close();
});

function expectedUrls(): string[] {
  const urls = [`${site.origin}/`];
  for (let k = 1; k < PAGES; k++) urls.push(`${site.origin}/n/${k}`);
  return urls.sort();
}

describe("resume after kill -9", () => {
  it("the union of the outputs of a killed run and a re-run has every URL exactly once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aiots-resume-"));
    const output = join(dir, "out.jsonl");
    const args = ["crawl", `${site.origin}/`, "--output", output, "--concurrency", "3", "--quiet"];
    const lineCount = () =>
      existsSync(output) ? readFileSync(output, "utf8").split("\n").length - 1 : 0;

    // Kill it once a few pages are written, well before the end (40 pages, 3 at a time, 60 ms
    // each); then kill the re-run too, once it has added some; then let a third run finish.
    let afterKill = 0;
    for (const more of [5, 8]) {
      const before = lineCount();
      const run = startCli(args);
      expect(await until(() => lineCount() >= before + more, 10_000)).toBe(true);
      run.child.kill("SIGKILL");
      expect((await run.done).signal).toBe("SIGKILL");
      afterKill = statSync(output).size;
    }
    expect(lineCount()).toBeLessThan(PAGES);

    const second = await runCli(args);
    expect(second.code).toBe(0);
    const text = readFileSync(output, "utf8");
    expect(text.length).toBeGreaterThanOrEqual(afterKill - 2000); // only a partial last line may go
    const urls = jsonLines<{ url: string; status: number }>(text).map((l) => l.url);
    expect(urls).toHaveLength(PAGES);
    expect([...urls].sort()).toEqual(expectedUrls());
  });

  it("a partial last line (a kill inside a write) is dropped and its URL fetched again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "aiots-resume-"));
    const output = join(dir, "out.jsonl");
    const args = [
      "crawl",
      `${site.origin}/`,
      "--output",
      output,
      "--depth",
      "1",
      "--quiet",
      "--json",
    ];
    const first = await runCli(args);
    expect(first.code).toBe(0);
    const full = readFileSync(output, "utf8");
    const lines = full.trimEnd().split("\n");
    expect(lines).toHaveLength(4); // "/" and its 3 children
    // Cut the last line in the middle, as a kill -9 during its write would.
    const cut = full.length - Math.floor((lines.at(-1) as string).length / 2) - 1;
    writeFileSync(output, full.slice(0, cut));
    const again = await runCli(args);
    expect(JSON.parse(again.stdout)).toMatchObject({ done: 1, resumed: 3 });
    const urls = jsonLines<{ url: string }>(readFileSync(output, "utf8")).map((l) => l.url);
    expect(urls).toHaveLength(4);
    expect(new Set(urls).size).toBe(4);
  });
});
