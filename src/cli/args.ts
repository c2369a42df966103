/**
 * The command line: `aiots <command> [options] [URL...]`, parsed with `node:util` `parseArgs`,
 * checked, and turned into typed options; the help texts.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** A command line the tool cannot run: exit code 2, with the message and a pointer to --help. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Options shared by `fetch` and `crawl`. */
export interface CommonOptions {
  urls: string[];
  concurrency: number;
  perHost: number;
  /** Total time per URL, in ms. */
  timeout: number;
  retries: number;
  /** Requests per second per host, or null. */
  rate: number | null;
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  output: string | undefined;
  save: string | undefined;
  quiet: boolean;
  json: boolean;
  /** Milliseconds between progress lines when stderr is not a terminal. */
  progressInterval: number;
}

export interface FetchOptions extends CommonOptions {
  command: "fetch";
  input: string | undefined;
}

export interface CrawlOptions extends CommonOptions {
  command: "crawl";
  depth: number;
  maxPages: number;
  /** No URL given: crawl the built-in demo site. */
  demo: boolean;
  demoPages: number;
  demoLatency: number;
}

export type Command =
  | FetchOptions
  | CrawlOptions
  | { command: "help"; topic: "main" | "fetch" | "crawl" }
  | { command: "version" };

export const MAIN_HELP: string = `aiots: fetch and crawl many URLs concurrently (built on aiots, Python's asyncio for Node.js)

usage:
  aiots fetch [options] [URL...]   fetch URLs from the arguments, --input FILE, or stdin
  aiots crawl [options] [URL...]   crawl from the URLs, breadth first, within their hosts
  aiots crawl                      crawl the built-in demo site (100 slow pages on 127.0.0.1)
  aiots ps PID | aiots pstree PID  the tasks of a running aiots process (see aiots ps --help)
  aiots <command> --help           the command's options
  aiots --version

Each URL gives one JSON line (url, finalUrl, status, bytes, durationMs, contentType, sha256,
error) on stdout or in --output FILE. Re-running with the same --output resumes: URLs already
in the file are skipped.

exit codes: 0 every URL succeeded, 1 some URLs failed (an error or a status >= 400),
            2 bad command line, 130 interrupted (Ctrl-C; a second Ctrl-C quits at once)`;

const COMMON_HELP = `  --concurrency N      requests at once, in all (default 32; crawl of the demo site: 100)
  --per-host N         requests at once to one host (default 8; demo site: 100)
  --timeout T          total time per URL: 30, 30s, 1500ms (default 30s)
  --retries N          retries of a failed GET (connection error, 429, 5xx) (default 2)
  --rate R             at most R requests per second to one host (default: no limit)
  --max-bytes N        largest body accepted; bigger ones fail (default 10485760)
  --output FILE        append the JSON lines to FILE, and resume from what it holds
  --save DIR           keep each body in DIR (the line's "file" names it)
  --quiet              no progress display and no summary
  --json               print the summary as JSON (on stdout with --output, else on stderr)
  --progress-interval MS  progress lines when stderr is not a terminal (default 2000)
  -h, --help           this help`;

export const FETCH_HELP: string = `usage: aiots fetch [options] [URL...]

Fetch every URL once, concurrently. URLs come from the arguments, from --input FILE (one per
line), or from stdin when neither is given ('-' as --input is stdin too). Blank lines and lines
starting with # are skipped; a URL given twice is fetched once.

options:
  --input FILE         read URLs from FILE
${COMMON_HELP}

example:
  aiots fetch --concurrency 50 --output results.jsonl < urls.txt`;

export const CRAWL_HELP: string = `usage: aiots crawl [options] [URL...]

Crawl breadth first from the start URLs, following links (<a href>, <area href>, honouring
<base href>) within the start URLs' hosts, and obeying their robots.txt. With no URL, start the
built-in demo site on 127.0.0.1 (100 pages that take 1 s each to answer), crawl it, and stop it.

options:
  --depth N            follow links up to N hops from a start URL (default 3)
  --max-pages N        fetch at most N pages, in all (default 1000)
  --demo-pages N       pages of the demo site (default 100)
  --demo-latency MS    how long each demo page takes to answer (default 1000)
${COMMON_HELP}

Each line also has "depth" and "links" (the page's links within the crawl's hosts): a re-run
with the same --output rebuilds the frontier from them.

example:
  aiots crawl https://example.com/docs/ --depth 2 --output docs.jsonl --save pages/`;

const OPTIONS = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  concurrency: { type: "string" },
  "per-host": { type: "string" },
  timeout: { type: "string" },
  retries: { type: "string" },
  rate: { type: "string" },
  "max-bytes": { type: "string" },
  output: { type: "string", short: "o" },
  save: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  json: { type: "boolean" },
  "progress-interval": { type: "string" },
  input: { type: "string", short: "i" },
  depth: { type: "string" },
  "max-pages": { type: "string" },
  "demo-pages": { type: "string" },
  "demo-latency": { type: "string" },
} as const;

const FETCH_ONLY = ["input"];
const CRAWL_ONLY = ["depth", "max-pages", "demo-pages", "demo-latency"];

function integer(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

/** "30", "30s", "2.5s", "1500ms" → milliseconds. */
export function parseDuration(name: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$/.exec(value);
  const ms = m === null ? Number.NaN : Number(m[1]) * (m[2] === "ms" ? 1 : 1000);
  if (!(ms > 0 && ms <= 86_400_000)) {
    throw new UsageError(`--${name} must be a duration such as 30, 30s or 1500ms, got "${value}"`);
  }
  return ms;
}

/**
 * Parse `argv` (without the node binary and script). Throws `UsageError` for anything wrong.
 */
export function parseCommand(argv: readonly string[]): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...urls] = positionals;
  if (command === undefined) {
    if (values.version === true) return { command: "version" };
    if (values.help === true) return { command: "help", topic: "main" };
    throw new UsageError("missing command: fetch or crawl");
  }
  if (command === "help") {
    const topic = urls[0];
    return { command: "help", topic: topic === "fetch" || topic === "crawl" ? topic : "main" };
  }
  if (command !== "fetch" && command !== "crawl") {
    throw new UsageError(`unknown command "${command}": use fetch or crawl`);
  }
  if (values.help === true) return { command: "help", topic: command };
  const foreign = command === "fetch" ? CRAWL_ONLY : FETCH_ONLY;
  for (const name of foreign) {
    if ((values as Record<string, unknown>)[name] !== undefined) {
      throw new UsageError(`--${name} is not an option of "aiots ${command}"`);
    }
  }
  for (const url of urls) {
    if (!URL.canParse(url) || !/^https?:$/i.test(new URL(url).protocol)) {
      throw new UsageError(`not an http(s) URL: "${url}"`);
    }
  }
  const demo = command === "crawl" && urls.length === 0;
  const rate = values.rate === undefined ? null : Number(values.rate);
  if (rate !== null && !(rate > 0 && rate <= 1e6)) {
    throw new UsageError(
      `--rate must be a number of requests per second > 0, got "${values.rate}"`,
    );
  }
  const common: CommonOptions = {
    urls,
    concurrency: integer("concurrency", values.concurrency, demo ? 100 : 32, 1, 10_000),
    perHost: integer("per-host", values["per-host"], demo ? 100 : 8, 1, 10_000),
    timeout: values.timeout === undefined ? 30_000 : parseDuration("timeout", values.timeout),
    retries: integer("retries", values.retries, 2, 0, 100),
    rate,
    maxBytes: integer("max-bytes", values["max-bytes"], 10 * 1024 * 1024, 0, 2 ** 48),
    output: values.output,
    save: values.save,
    quiet: values.quiet === true,
    json: values.json === true,
    progressInterval: integer(
      "progress-interval",
      values["progress-interval"],
      2000,
      10,
      3_600_000,
    ),
  };
  if (command === "fetch") return { ...common, command, input: values.input };
  return {
    ...common,
    command,
    depth: integer("depth", values.depth, 3, 0, 1000),
    maxPages: integer("max-pages", values["max-pages"], 1000, 1, 100_000_000),
    demo,
    demoPages: integer("demo-pages", values["demo-pages"], 100, 2, 100_000),
    demoLatency: integer("demo-latency", values["demo-latency"], 1000, 0, 60_000),
  };
}
