/**
 * `aiots fetch` as a process: URLs from arguments, a file and stdin; one line per URL; --save;
 * --json; resuming from --output; help and exit codes.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, type Loopback, runCli, serve } from "../helpers/loopback.ts";

interface Line {
  url: string;
  status: number | null;
  bytes: number;
  sha256: string | null;
  error: string | null;
  file?: string;
}

let site: Loopback;
beforeAll(async () => {
  site = await serve((req, res) => {
    if (req.url?.startsWith("/missing")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("no");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(`body of ${req.url}`);
  });
});
afterAll(async () => {
  await site.close();
});

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const tmp = () => mkdtempSync(join(tmpdir(), "aiots-fetch-"));

describe("aiots fetch", () => {
  it("fetches URLs from stdin once each; a bad line gets its own error line", async () => {
    const input = [
      `${site.origin}/a`,
      "",
      "# a comment",
      `${site.origin}/b`,
      "not a url",
      `${site.origin}/a#same-page`,
      `${site.origin}/missing`,
    ].join("\n");
    const result = await runCli(["fetch", "--quiet"], { input });
    expect(result.code).toBe(1);
    const lines = jsonLines<Line>(result.stdout);
    expect(lines.map((l) => l.url).sort()).toEqual(
      [`${site.origin}/a`, `${site.origin}/b`, `${site.origin}/missing`, "not a url"].sort(),
    );
    const a = lines.find((l) => l.url.endsWith("/a")) as Line;
    expect(a).toMatchObject({ status: 200, bytes: 10, error: null, sha256: sha256("body of /a") });
    expect(lines.find((l) => l.url === "not a url")?.error).toBe("InvalidUrl: not an http(s) URL");
    expect(lines.find((l) => l.url.endsWith("/missing"))?.error).toBe("HTTP 404 Not Found");
  });

  it("--input FILE and arguments, --save DIR, --json summary; resumes from --output", async () => {
    const dir = tmp();
    const list = join(dir, "urls.txt");
    const output = join(dir, "out.jsonl");
    const save = join(dir, "bodies");
    writeFileSync(list, `${site.origin}/1\n${site.origin}/2\n`);
    const first = await runCli([
      "fetch",
      `${site.origin}/0`,
      "--input",
      list,
      "--output",
      output,
      "--save",
      save,
      "--json",
    ]);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ command: "fetch", done: 3, ok: 3, failed: 0, resumed: 0 });
    const lines = jsonLines<Line>(readFileSync(output, "utf8"));
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      const saved = readFileSync(join(save, line.file as string), "utf8");
      expect(sha256(saved)).toBe(line.sha256);
      expect(line.file).toMatch(/\.txt$/);
    }
    // A second run with two more URLs fetches only those.
    writeFileSync(list, `${site.origin}/1\n${site.origin}/2\n${site.origin}/3\n${site.origin}/4\n`);
    const before = site.log.length;
    const second = await runCli(["fetch", "--input", list, "--output", output, "--json"]);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ done: 2, resumed: 3 });
    expect(site.log.slice(before).sort()).toEqual(["GET /3", "GET /4"]);
    const all = jsonLines<Line>(readFileSync(output, "utf8")).map((l) => l.url);
    expect(all).toHaveLength(5);
    expect(new Set(all).size).toBe(5);
  });

  it("--help for every command; usage errors exit 2", async () => {
    const main = await runCli(["--help"]);
    expect(main.code).toBe(0);
    expect(main.stdout).toContain("usage:");
    for (const command of ["fetch", "crawl"]) {
      const help = await runCli([command, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`usage: aiots ${command}`);
    }
    const bad = await runCli(["fetch", "--concurrency", "lots", `${site.origin}/`]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--concurrency must be an integer from 1 to 10000, got "lots"');
  });
});
