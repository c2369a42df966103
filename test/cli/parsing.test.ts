/**
 * The crawler's parsers on their own: URL normalisation, link extraction (htmlparser2, chunked
 * input, invalid HTML), robots.txt, the command line, and reading an output file to resume.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCommand, parseDuration, UsageError } from "../../src/cli/args.ts";
import { isHtml, LinkExtractor, normalizeUrl } from "../../src/cli/links.ts";
import { loadResume } from "../../src/cli/resume.ts";
import { parseRobots } from "../../src/cli/robots.ts";

function extract(pageUrl: string, html: string, chunkSize = html.length): string[] {
  const extractor = new LinkExtractor(pageUrl, "text/html; charset=utf-8");
  const bytes = Buffer.from(html);
  for (let i = 0; i < bytes.length; i += chunkSize)
    extractor.write(bytes.subarray(i, i + chunkSize));
  return extractor.end();
}

describe("normalizeUrl", () => {
  it("lower-cases scheme and host, drops default ports and fragments, resolves dot segments", () => {
    expect(normalizeUrl("HTTP://Example.COM:80/a/./b/../c#top")).toBe("http://example.com/a/c");
    expect(normalizeUrl("https://EXAMPLE.com:443")).toBe("https://example.com/");
    expect(normalizeUrl("http://example.com:8080/x?q=1#f")).toBe("http://example.com:8080/x?q=1");
    expect(normalizeUrl("../up", "http://h/a/b/c")).toBe("http://h/a/up");
    expect(normalizeUrl("mailto:someone@example.com")).toBeUndefined();
    expect(normalizeUrl("javascript:void(0)", "http://h/")).toBeUndefined();
    expect(normalizeUrl("not a url")).toBeUndefined();
  });
});

describe("LinkExtractor", () => {
  const page = `<!doctype html><html><head><title>t</title></head><body>
    <a href="/abs">1</a> <A HREF="rel/x.html">2</A> <a href="../up?x=1&amp;y=2#frag">3</a>
    <a href="#only-fragment">4</a> <a href="mailto:a@b.c">5</a> <a href="javascript:alert(1)">6</a>
    <a href="tel:123">7</a> <a>no href</a> <a href="  /abs  ">dup</a>
    <area href="http://OTHER.example:80/map" /> <a href="https://h.example/%7Euser">8</a>
  </body></html>`;

  it("finds <a>/<area> links: absolute, normalised, de-duplicated, in order", () => {
    expect(extract("http://h.example/dir/page.html", page)).toEqual([
      "http://h.example/abs",
      "http://h.example/dir/rel/x.html",
      "http://h.example/up?x=1&y=2",
      "http://other.example/map",
      "https://h.example/%7Euser",
    ]);
  });

  it("gives the same links when the body arrives in 1, 3 or 7-byte chunks (tags and entities split)", () => {
    const whole = extract("http://h.example/dir/page.html", page);
    for (const size of [1, 3, 7])
      expect(extract("http://h.example/dir/page.html", page, size)).toEqual(whole);
    // A multi-byte character split across chunks does not corrupt the link.
    expect(extract("http://h.example/", '<a href="/caf\u00e9">x</a>', 1)).toEqual([
      "http://h.example/caf%C3%A9",
    ]);
  });

  it("honours <base href> (the first one), wherever it appears", () => {
    const html = `<a href="one">1</a><base href="http://cdn.example/base/"><base href="/ignored/"><a href="two">2</a>`;
    expect(extract("http://h.example/page", html)).toEqual([
      "http://cdn.example/base/one",
      "http://cdn.example/base/two",
    ]);
    expect(extract("http://h.example/d/page", `<base target="_blank"><a href="x">x</a>`)).toEqual([
      "http://h.example/d/x",
    ]);
  });

  it("survives invalid HTML: unclosed tags, stray quotes, garbage, binary", () => {
    const broken = `<html><body><div><a href="/ok">ok<p><a href='/single'>s</a><a href=/bare>b</a>
      <a href="/unterminated>never closed <<<>>> </div></span></table> \u0000\u0001
      <a href="/after">after</a>`;
    const links = extract("http://h.example/", broken);
    expect(links).toContain("http://h.example/ok");
    expect(links).toContain("http://h.example/single");
    expect(links).toContain("http://h.example/bare");
    expect(() => extract("http://h.example/", "\u00ff\u00fe<<a href=")).not.toThrow();
  });

  it("isHtml recognises HTML content types only", () => {
    expect(isHtml("text/html; charset=utf-8")).toBe(true);
    expect(isHtml("application/xhtml+xml")).toBe(true);
    expect(isHtml("application/json")).toBe(false);
    expect(isHtml(undefined)).toBe(false);
  });
});

describe("robots.txt", () => {
  const text = `# comment
User-agent: Googlebot
Disallow: /

User-agent: *
Disallow: /private/
Allow: /private/public
Disallow: /*.pdf$
Disallow: /tmp

User-agent: aiots
User-agent: other
Disallow: /no-aiots/
Allow: /no-aiots/but-this
`;

  it("obeys the group naming the agent, else the * group; the longest rule wins", () => {
    const star = parseRobots(text, "somebot");
    expect(star.allowed("/")).toBe(true);
    expect(star.allowed("/private/x")).toBe(false);
    expect(star.allowed("/private/public/page")).toBe(true);
    expect(star.allowed("/doc.pdf")).toBe(false);
    expect(star.allowed("/doc.pdf?x=1")).toBe(true); // $ anchors at the end
    expect(star.allowed("/tmpfile")).toBe(false);
    const mine = parseRobots(text, "aiots");
    expect(mine.allowed("/private/x")).toBe(true); // its own group replaces the * group
    expect(mine.allowed("/no-aiots/x")).toBe(false);
    expect(mine.allowed("/no-aiots/but-this/y")).toBe(true);
    expect(mine.allowed("/robots.txt")).toBe(true);
  });

  it("Allow wins a tie; empty Disallow allows all; garbage is ignored", () => {
    const tie = parseRobots("User-agent: *\nDisallow: /page\nAllow: /page\n", "aiots");
    expect(tie.allowed("/page")).toBe(true);
    const open = parseRobots(
      "User-agent: *\nDisallow:\n\u0000 garbage line\nnot: a field\n",
      "aiots",
    );
    expect(open.allowed("/anything")).toBe(true);
    expect(parseRobots("Disallow: /x\n", "aiots").allowed("/x")).toBe(true); // no group
    expect(parseRobots("User-agent: *\r\nDisallow: /a%2db\r\n", "aiots").allowed("/a-b")).toBe(
      false,
    );
  });
});

describe("command line", () => {
  it("parses commands, options and defaults", () => {
    const fetch = parseCommand(["fetch", "--concurrency", "5", "--timeout", "1500ms", "http://a/"]);
    expect(fetch).toMatchObject({
      command: "fetch",
      concurrency: 5,
      timeout: 1500,
      urls: ["http://a/"],
    });
    const crawl = parseCommand([
      "crawl",
      "http://a/",
      "--depth",
      "1",
      "-o",
      "out.jsonl",
      "--rate",
      "2.5",
    ]);
    expect(crawl).toMatchObject({
      command: "crawl",
      depth: 1,
      output: "out.jsonl",
      rate: 2.5,
      demo: false,
      perHost: 8,
    });
    expect(parseCommand(["crawl"])).toMatchObject({ demo: true, concurrency: 100, perHost: 100 });
    expect(parseCommand(["--help"])).toEqual({ command: "help", topic: "main" });
    expect(parseCommand(["crawl", "--help"])).toEqual({ command: "help", topic: "crawl" });
    expect(parseCommand(["help", "fetch"])).toEqual({ command: "help", topic: "fetch" });
    expect(parseDuration("timeout", "2.5")).toBe(2500);
    expect(parseDuration("timeout", "3s")).toBe(3000);
  });

  it("rejects bad command lines with UsageError", () => {
    const bad = [
      [],
      ["frob"],
      ["fetch", "--concurrency", "0"],
      ["fetch", "--concurrency", "x"],
      ["fetch", "--timeout", "soon"],
      ["fetch", "--depth", "2", "http://a/"],
      ["crawl", "--input", "f"],
      ["crawl", "ftp://a/"],
      ["crawl", "--nope"],
      ["fetch", "--rate", "-1", "http://a/"],
    ];
    const accepted = bad.filter((argv) => {
      try {
        parseCommand(argv);
        return true;
      } catch (error) {
        return !(error instanceof UsageError);
      }
    });
    expect(accepted).toEqual([]);
  });
});

describe("loadResume", () => {
  it("reads the done URLs and cuts off a partial last line", () => {
    const dir = mkdtempSync(join(tmpdir(), "aiots-resume-"));
    const file = join(dir, "out.jsonl");
    const line = (url: string) => `${JSON.stringify({ url, status: 200, links: [] })}\n`;
    writeFileSync(
      file,
      `${line("http://a/1")}not json\n${line("http://a/2")}{"url":"http://a/3","sta`,
    );
    const state = loadResume(file);
    expect([...state.done]).toEqual(["http://a/1", "http://a/2"]);
    expect(state.truncatedBytes).toBe(24);
    expect(readFileSync(file, "utf8").endsWith("\n")).toBe(true);
    expect(loadResume(join(dir, "missing.jsonl")).done.size).toBe(0);
  });
});
