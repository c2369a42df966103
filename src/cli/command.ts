/**
 * The `aiots` command's body, loaded by main.ts: parse the command line, run the command, print
 * the summary, and choose the exit code.
 *
 * The command runs as the main task of `run(main, { handleSignals: true })`: the first Ctrl-C
 * cancels it (the requests in flight are aborted, what is done is already in the output, the
 * summary is printed, exit code 130); a second Ctrl-C ends the process at once.
 *
 * @module
 */
import { KeyboardInterrupt, run } from "../index.ts";
import {
  type Command,
  CRAWL_HELP,
  type CrawlOptions,
  FETCH_HELP,
  type FetchOptions,
  MAIN_HELP,
  parseCommand,
  UsageError,
} from "./args.ts";
import { crawlCommand } from "./crawl.ts";
import { fetchCommand } from "./fetch.ts";
import { formatDuration, Stats } from "./progress.ts";
import { psCommand } from "./ps.ts";
import { describeError } from "./visit.ts";

const VERSION = "0.1.0";

/** Exit codes. */
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
const EXIT_INTERRUPTED = 130;

function summaryObject(
  options: FetchOptions | CrawlOptions,
  stats: Stats,
  interrupted: boolean,
): Record<string, unknown> {
  return {
    command: options.command,
    done: stats.done,
    ok: stats.done - stats.failed,
    failed: stats.failed,
    skipped: stats.skipped,
    resumed: stats.resumed,
    notDone: Math.max(0, stats.total - stats.done),
    bytes: stats.bytes,
    elapsedMs: Math.round(stats.elapsedMs()),
    sequentialMs: stats.sequentialMs,
    interrupted,
    output: options.output ?? null,
  };
}

function summaryText(
  options: FetchOptions | CrawlOptions,
  stats: Stats,
  interrupted: boolean,
): string {
  const elapsed = stats.elapsedMs();
  const rate = elapsed > 0 ? (stats.done * 1000) / elapsed : 0;
  const noun = options.command === "crawl" ? "pages" : "URLs";
  const parts = [`${stats.done - stats.failed} ok`, `${stats.failed} failed`];
  if (stats.skipped > 0) parts.push(`${stats.skipped} skipped by robots.txt`);
  const lines = [
    `${options.command}: ${stats.done} ${noun} in ${formatDuration(elapsed)} (${parts.join(", ")}), ${rate.toFixed(1)}/s`,
  ];
  if (stats.resumed > 0) {
    lines.push(`resumed: ${stats.resumed} ${noun} were already done in ${options.output}`);
  }
  if (stats.done > 1 && stats.sequentialMs > elapsed) {
    lines.push(
      `one after another they would have taken ${formatDuration(stats.sequentialMs)} ` +
        `(the sum of their times): ${(stats.sequentialMs / elapsed).toFixed(1)}x longer`,
    );
  }
  lines.push(...stats.notes);
  if (interrupted) {
    const left = Math.max(0, stats.total - stats.done);
    lines.push(
      `interrupted: ${left} ${noun} not done` +
        (options.output === undefined
          ? ""
          : `; run the same command again to resume from ${options.output}`),
    );
  }
  return lines.join("\n");
}

function printSummary(options: FetchOptions | CrawlOptions, stats: Stats, interrupted: boolean) {
  if (options.json) {
    const json = `${JSON.stringify(summaryObject(options, stats, interrupted))}\n`;
    if (options.output === undefined) process.stderr.write(json);
    else process.stdout.write(json);
  } else if (!options.quiet) {
    process.stderr.write(`${summaryText(options, stats, interrupted)}\n`);
  }
}

function help(command: Command & { command: "help" }): string {
  return command.topic === "fetch"
    ? FETCH_HELP
    : command.topic === "crawl"
      ? CRAWL_HELP
      : MAIN_HELP;
}

/** Run the tool with `argv` (without node and the script); resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === "ps" || first === "pstree") return psCommand(first, rest);
  let command: Command;
  try {
    command = parseCommand(argv);
    if (
      command.command === "fetch" &&
      command.urls.length === 0 &&
      (command.input === undefined || command.input === "-") &&
      process.stdin.isTTY === true
    ) {
      throw new UsageError("no URLs: give them as arguments, with --input FILE, or on stdin");
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`aiots: ${error.message}\nTry "aiots --help".\n`);
    return EXIT_USAGE;
  }
  if (command.command === "help") {
    process.stdout.write(`${help(command)}\n`);
    return EXIT_OK;
  }
  if (command.command === "version") {
    process.stdout.write(`aiots ${VERSION}\n`);
    return EXIT_OK;
  }
  const options = command;
  const stats = new Stats();
  let interrupted = false;
  try {
    await run(
      () =>
        options.command === "fetch" ? fetchCommand(options, stats) : crawlCommand(options, stats),
      { handleSignals: true },
    );
  } catch (error) {
    if (!(error instanceof KeyboardInterrupt)) {
      printSummary(options, stats, false);
      process.stderr.write(`aiots: ${describeError(error)}\n`);
      return EXIT_FAILED;
    }
    interrupted = true;
  }
  printSummary(options, stats, interrupted);
  if (interrupted) return EXIT_INTERRUPTED;
  return stats.failed > 0 ? EXIT_FAILED : EXIT_OK;
}
