/**
 * `npm run bench`: runs every benchmark scenario of `bench/*.bench.ts` against aiots, raw
 * promises and the peers, one fresh child process per scenario x subject, and prints a table of
 * medians and ratios. See bench/README.md.
 *
 *     node bench/run.ts [--filter <scenario>[,...]] [--subject <name>[,...]] [--quick]
 *                       [--runs N] [--warmup N] [--json] [--out <file>] [--timeout <s>]
 *                       [--node <path>] [--node-flags "<flags>"] [--dist | --aiots <file>]
 *                       [--list]
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  type ChildReport,
  DEFAULT_RUNS,
  DEFAULT_WARMUP,
  type Sample,
  type Scenario,
  type Scenarios,
} from "./harness.ts";

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, "..");

const USAGE = `usage: node bench/run.ts [options]   (npm run bench -- [options])

  --filter <names>     only the scenarios whose name contains one of these (comma-separated)
  --subject <names>    only the subjects whose name contains one of these (comma-separated)
  --quick              fewer runs (about half), for a quick look
  --runs <n>           measured runs per subject (default: the scenario's, usually ${DEFAULT_RUNS})
  --warmup <n>         warm-up runs per subject before them (default ${DEFAULT_WARMUP})
  --json               print the results as JSON on stdout (the table goes to stderr)
  --out <file>         also write the JSON results to <file>
  --timeout <s>        kill a child that runs longer than this (default 180)
  --node <path>        run the children with this node binary (default: the runner's own)
  --node-flags "<f>"   extra flags for the children's node, e.g. "--experimental-async-context-frame"
  --dist               benchmark the built dist/index.js (npm run build) instead of src/
  --aiots <file>       benchmark the aiots entry at <file> (another checkout, an old build)
  --list               list the scenarios and their subjects, and exit
  --help               this text`;

// ---------------------------------------------------------------- options

interface Options {
  filters: string[];
  subjects: string[];
  quick: boolean;
  runs: number | undefined;
  warmup: number | undefined;
  json: boolean;
  out: string | undefined;
  timeoutMs: number;
  node: string;
  nodeFlags: string[];
  aiotsEntry: string | undefined;
  list: boolean;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function intOption(name: string, value: string | undefined, min: number, max: number) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    fail(`--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function list(value: string[] | undefined): string[] {
  return (value ?? []).flatMap((v) => v.split(",")).filter((v) => v !== "");
}

const OPTIONS = {
  filter: { type: "string", multiple: true },
  subject: { type: "string", multiple: true },
  quick: { type: "boolean" },
  runs: { type: "string" },
  warmup: { type: "string" },
  json: { type: "boolean" },
  out: { type: "string" },
  timeout: { type: "string" },
  node: { type: "string" },
  "node-flags": { type: "string" },
  dist: { type: "boolean" },
  aiots: { type: "string" },
  list: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function parseOptions(argv: string[]): Options {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>;
  // `--node-flags "--foo --bar"`: parseArgs refuses a value that starts with a dash unless it
  // is attached with "=".
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (arg === "--node-flags" && next !== undefined) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  const v = parsed.values;
  if (v.help === true) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (v.dist === true && v.aiots !== undefined) fail("--dist and --aiots exclude each other");
  let aiotsEntry = v.aiots === undefined ? undefined : resolve(v.aiots);
  if (v.dist === true) aiotsEntry = join(ROOT, "dist", "index.js");
  if (aiotsEntry !== undefined && !existsSync(aiotsEntry)) {
    fail(`no aiots entry at ${aiotsEntry}${v.dist === true ? " (run npm run build first)" : ""}`);
  }
  const node = v.node === undefined ? process.execPath : resolve(v.node);
  if (!existsSync(node)) fail(`--node: no such file: ${node}`);
  return {
    filters: list(v.filter),
    subjects: list(v.subject),
    quick: v.quick === true,
    runs: intOption("runs", v.runs, 1, 100),
    warmup: intOption("warmup", v.warmup, 0, 100),
    json: v.json === true,
    out: v.out,
    timeoutMs: (intOption("timeout", v.timeout, 1, 3600) ?? 180) * 1000,
    node,
    nodeFlags: (v["node-flags"] ?? "").split(/\s+/).filter((f) => f !== ""),
    aiotsEntry,
    list: v.list === true,
  };
}

// ---------------------------------------------------------------- discovery

interface Entry {
  file: string;
  name: string;
  scenario: Scenario;
}

function isScenario(value: unknown): value is Scenario {
  if (value === null || typeof value !== "object") return false;
  const s = value as Partial<Scenario>;
  return (
    typeof s.description === "string" &&
    typeof s.unit === "string" &&
    (s.better === "higher" || s.better === "lower") &&
    s.subjects !== null &&
    typeof s.subjects === "object" &&
    Object.values(s.subjects).every((f) => typeof f === "function")
  );
}

/** Every scenario of every `bench/*.bench.ts`, in file order then declaration order. */
async function discover(): Promise<Entry[]> {
  const files = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".bench.ts"))
    .sort((a, b) => (a === "core.bench.ts" ? -1 : b === "core.bench.ts" ? 1 : a.localeCompare(b)));
  const entries: Entry[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const path = join(BENCH_DIR, file);
    const mod = (await import(pathToFileURL(path).href)) as { scenarios?: unknown };
    const scenarios = mod.scenarios;
    if (scenarios === null || typeof scenarios !== "object") {
      fail(`${file} does not export "scenarios"`);
    }
    for (const [name, scenario] of Object.entries(scenarios as Scenarios)) {
      if (!isScenario(scenario)) fail(`${file}: scenario "${name}" is malformed`);
      const other = seen.get(name);
      if (other !== undefined) fail(`scenario "${name}" is defined in both ${other} and ${file}`);
      const subjects = Object.keys(scenario.subjects);
      if (scenario.baseline !== undefined && !subjects.includes(scenario.baseline)) {
        fail(`${file}: scenario "${name}" has baseline "${scenario.baseline}", not a subject`);
      }
      seen.set(name, file);
      entries.push({ file: path, name, scenario });
    }
  }
  return entries;
}

function matches(name: string, patterns: string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => name.includes(p));
}

// ---------------------------------------------------------------- children

interface ChildNode {
  version: string;
  /** Flags the runner adds so that this node can run .ts files. */
  flags: string[];
}

function probeNode(node: string): ChildNode {
  const probe = spawnSync(node, ["--version"], { encoding: "utf8", timeout: 30_000 });
  const version = probe.stdout?.trim() ?? "";
  const m = /^v(\d+)\.(\d+)\./.exec(version);
  if (probe.status !== 0 || m === null) fail(`cannot run ${node} --version`);
  const major = Number(m[1]);
  const minor = Number(m[2]);
  // Type stripping is on by default from 22.18; 22.6-22.17 have it behind a flag.
  if (major < 22 || (major === 22 && minor < 6)) {
    fail(`${node} is ${version}: the children need Node >= 22.6 to run .ts files`);
  }
  const flags = major === 22 && minor < 18 ? ["--experimental-strip-types"] : [];
  return { version, flags };
}

interface ChildResult {
  report: ChildReport | undefined;
  error: string | undefined;
  ms: number;
}

function lastJsonLine(stdout: string): ChildReport | undefined {
  const lines = stdout.split("\n").filter((l) => l.startsWith("{"));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const value = JSON.parse(lines[i] as string) as Partial<ChildReport>;
      if (typeof value.scenario === "string" && Array.isArray(value.samples)) {
        return value as ChildReport;
      }
    } catch {
      // not our line
    }
  }
  return undefined;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function runChild(
  options: Options,
  childNode: ChildNode,
  entry: Entry,
  subject: string,
  runs: number,
  warmup: number,
): Promise<ChildResult> {
  const args = [
    ...childNode.flags,
    "--expose-gc",
    ...(entry.scenario.nodeFlags ?? []),
    ...options.nodeFlags,
    entry.file,
    entry.name,
    subject,
    "--warmup",
    String(warmup),
    "--runs",
    String(runs),
  ];
  const env = { ...process.env };
  if (options.aiotsEntry === undefined) delete env.AIOTS_BENCH_ENTRY;
  else env.AIOTS_BENCH_ENTRY = options.aiotsEntry;
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const child = spawn(options.node, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs);
    const finish = (error: string | undefined, report: ChildReport | undefined) => {
      clearTimeout(timer);
      resolvePromise({ report, error, ms: performance.now() - started });
    };
    child.on("error", (error) =>
      finish(`cannot start ${options.node}: ${error.message}`, undefined),
    );
    child.on("close", (code, signal) => {
      const report = lastJsonLine(stdout);
      if (timedOut) {
        finish(`timed out after ${options.timeoutMs / 1000} s`, report);
      } else if (report?.error !== undefined) {
        finish(report.error.split("\n").slice(0, 5).join("\n"), report);
      } else if (report === undefined || code !== 0) {
        const why =
          signal !== null
            ? `killed by ${signal}`
            : code === 13
              ? "exit code 13: the subject's promise never settled (a deadlock, or a lost wake-up)"
              : `exit code ${code}`;
        finish(`${why}, no result${stderr ? `:\n${tail(stderr, 8)}` : ""}`, report);
      } else {
        finish(undefined, report);
      }
    });
  });
}

// ---------------------------------------------------------------- statistics and table

interface Row {
  scenario: string;
  subject: string;
  unit: string;
  better: "higher" | "lower";
  /** Operations per run (the last run's, they are all the same). */
  n: number | undefined;
  samples: number[];
  median: number | undefined;
  min: number | undefined;
  max: number | undefined;
  /** median / the baseline subject's median. */
  ratio: number | undefined;
  error: string | undefined;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function makeRow(entry: Entry, subject: string, results: ChildResult[]): Row {
  const samples: Sample[] = results.flatMap((r) => r.report?.samples ?? []);
  const error = results.find((r) => r.error !== undefined)?.error;
  const values = samples.map((s) => s.value);
  return {
    scenario: entry.name,
    subject,
    unit: entry.scenario.unit,
    better: entry.scenario.better,
    n: samples.at(-1)?.n,
    samples: values,
    median: median(values),
    min: values.length > 0 ? Math.min(...values) : undefined,
    max: values.length > 0 ? Math.max(...values) : undefined,
    ratio: undefined,
    error,
  };
}

/** 1.23M, 456k, 12.3k, 1492, 98.7, 1.23 */
function num(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(abs >= 1e8 ? 0 : 2)}M`;
  if (abs >= 1e5) return `${(value / 1e3).toFixed(0)}k`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}k`;
  if (abs >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

/** 1M, 200k, 5k, 500 */
function count(n: number | undefined): string {
  if (n === undefined) return "-";
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`;
  return String(n);
}

function ratioText(ratio: number | undefined): string {
  if (ratio === undefined || !Number.isFinite(ratio)) return "-";
  return `${ratio >= 10 ? ratio.toFixed(0) : ratio >= 1 ? ratio.toFixed(2) : ratio.toPrecision(2)}x`;
}

function table(rows: Row[], entries: Entry[]): string {
  const header = ["scenario", "library", "median", "min..max", "unit", "vs aiots", "n", "runs"];
  const body: string[][] = [];
  const notes: string[] = [];
  for (const entry of entries) {
    const mine = rows.filter((r) => r.scenario === entry.name);
    if (mine.length === 0) continue;
    const unit = `${entry.scenario.unit} (${entry.scenario.better} is better)`;
    for (const [i, r] of mine.entries()) {
      body.push([
        i === 0 ? r.scenario : "",
        r.subject,
        r.error !== undefined && r.median === undefined ? "FAILED" : num(r.median),
        r.min === undefined ? "-" : `${num(r.min)}..${num(r.max)}`,
        i === 0 ? unit : "",
        ratioText(r.ratio),
        count(r.n),
        String(r.samples.length),
      ]);
      if (r.error !== undefined) notes.push(`${r.scenario} ${r.subject}: ${r.error}`);
    }
  }
  const widths = header.map((h, c) =>
    Math.max(h.length, ...body.map((row) => row[c]?.length ?? 0)),
  );
  const numeric = new Set([2, 3, 5, 6, 7]);
  const line = (cells: string[]) =>
    cells
      .map((cell, c) =>
        numeric.has(c) ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number),
      )
      .join(" | ")
      .trimEnd();
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("-|-")];
  for (const row of body) out.push(line(row));
  if (notes.length > 0)
    out.push("", "failures:", ...notes.map((n) => `  ${n.replace(/\n/g, "\n    ")}`));
  return out.join("\n");
}

// ---------------------------------------------------------------- context

function gitDescription(): string | undefined {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (head.status !== 0) return undefined;
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  const changed = dirty.status === 0 && dirty.stdout.trim() !== "";
  return `git ${head.stdout.trim()}${changed ? ", src/ has uncommitted changes" : ""}`;
}

function load(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const all = await discover();
  const entries = all.filter((e) => matches(e.name, options.filters));
  if (options.list) {
    for (const e of all) {
      const subjects = Object.keys(e.scenario.subjects).join(", ");
      process.stdout.write(
        `${e.name}  (${relative(ROOT, e.file)})\n  ${e.scenario.description}\n  ${subjects}\n`,
      );
    }
    return;
  }
  if (entries.length === 0) fail(`no scenario matches ${options.filters.join(", ")}`);
  const childNode = probeNode(options.node);
  const log = (text: string) => process.stderr.write(`${text}\n`);
  const cpus = os.cpus();
  const aiotsLabel =
    options.aiotsEntry === undefined
      ? `src/index.ts${((g) => (g === undefined ? "" : ` (${g})`))(gitDescription())}`
      : options.aiotsEntry.startsWith(ROOT)
        ? relative(ROOT, options.aiotsEntry)
        : options.aiotsEntry;
  const flags = [...childNode.flags, "--expose-gc", ...options.nodeFlags].join(" ");
  const loadBefore = load();
  log(`node ${childNode.version} ${flags} (${options.node})`);
  log(`aiots: ${aiotsLabel}`);
  log(
    `${os.platform()} ${os.arch()}, ${cpus.length} x ${cpus[0]?.model ?? "?"}, load ${loadBefore}`,
  );

  type Job = { entry: Entry; subject: string; runs: number; warmup: number };
  const jobs: Job[] = [];
  for (const entry of entries) {
    let runs = options.runs ?? entry.scenario.runs ?? DEFAULT_RUNS;
    if (options.quick && options.runs === undefined) runs = Math.max(1, Math.floor(runs / 2));
    const warmup = options.warmup ?? entry.scenario.warmup ?? DEFAULT_WARMUP;
    const subjects = Object.keys(entry.scenario.subjects).filter((s) =>
      matches(s, options.subjects),
    );
    if (entry.scenario.interleave === true) {
      for (let round = 0; round < runs; round++) {
        for (const subject of subjects) jobs.push({ entry, subject, runs: 1, warmup });
      }
    } else {
      for (const subject of subjects) jobs.push({ entry, subject, runs, warmup });
    }
  }
  if (jobs.length === 0) fail(`no subject matches ${options.subjects.join(", ")}`);

  const started = performance.now();
  // Rows in job order; an interleaved scenario's children add their samples to one row.
  const rowsByKey = new Map<string, { entry: Entry; subject: string; results: ChildResult[] }>();
  for (const [i, job] of jobs.entries()) {
    const { entry, subject } = job;
    const label = `[${i + 1}/${jobs.length}] ${entry.name} ${subject}`;
    const result = await runChild(options, childNode, entry, subject, job.runs, job.warmup);
    const key = `${entry.name}\u0000${subject}`;
    const slot = rowsByKey.get(key) ?? { entry, subject, results: [] };
    slot.results.push(result);
    rowsByKey.set(key, slot);
    const row = makeRow(entry, subject, [result]);
    const secs = (result.ms / 1000).toFixed(1);
    log(
      row.error === undefined
        ? `${label}: ${num(row.median)} ${row.unit} (${secs} s)`
        : `${label}: FAILED (${secs} s) ${row.error.split("\n")[0] ?? ""}`,
    );
  }
  const rows = [...rowsByKey.values()].map((r) => makeRow(r.entry, r.subject, r.results));
  for (const entry of entries) {
    const mine = rows.filter((r) => r.scenario === entry.name);
    const baselineName = entry.scenario.baseline ?? Object.keys(entry.scenario.subjects)[0];
    const base = mine.find((r) => r.subject === baselineName)?.median;
    for (const r of mine) {
      if (base !== undefined && base !== 0 && r.median !== undefined) r.ratio = r.median / base;
    }
  }

  const loadAfter = load();
  const text = table(rows, entries);
  const busy = Math.max(...os.loadavg().slice(0, 2)) > cpus.length * 0.75;
  const rounds = entries.filter((e) => e.scenario.interleave === true).map((e) => e.name);
  const interleaved =
    rounds.length === 0 ? "" : ` (per run, in rounds of every subject, for ${rounds.join(", ")})`;
  const footer = [
    `medians of ${[...new Set(rows.map((r) => r.samples.length))].join("/")} runs after ${[...new Set(jobs.map((j) => j.warmup))].join("/")} warm-up, one child process per row${interleaved}; ` +
      `"vs aiots" = median / the aiots row's median (for /s units > 1x is faster than aiots, for B/task < 1x is smaller).`,
    `total ${((performance.now() - started) / 1000).toFixed(0)} s, load ${loadBefore} -> ${loadAfter}` +
      (busy ? " -- the machine was busy: treat the figures as rough" : ""),
  ];
  const output = `\n${text}\n\n${footer.join("\n")}\n`;
  const json = {
    date: new Date().toISOString(),
    node: childNode.version,
    nodePath: options.node,
    nodeFlags: [...childNode.flags, "--expose-gc", ...options.nodeFlags],
    aiots: aiotsLabel,
    host: { platform: os.platform(), arch: os.arch(), cpus: cpus.length, model: cpus[0]?.model },
    load: { before: loadBefore, after: loadAfter },
    rows,
  };
  if (options.json) {
    process.stderr.write(output);
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(output);
  }
  if (options.out !== undefined) writeFileSync(options.out, `${JSON.stringify(json, null, 2)}\n`);
  if (rows.some((r) => r.error !== undefined)) process.exitCode = 1;
}

await main();
