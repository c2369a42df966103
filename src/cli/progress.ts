/**
 * The progress display: counters that the workers update, and a ticker task that shows them.
 *
 * On a terminal (stderr is a TTY) one status line is redrawn in place (`\r` + erase line) at most
 * ten times a second; otherwise a plain line is printed every few seconds, so logs stay readable.
 * The ticker is an ordinary aiots task in the tool's TaskGroup, cancelled when the work is done.
 *
 * @module
 */
import { sleep } from "../index.ts";

/** The counters of a run. */
export class Stats {
  /** URLs finished (a line was written). */
  done = 0;
  /** URLs finished with an error or a status >= 400. */
  failed = 0;
  /** URLs known so far: done, running and queued. */
  total = 0;
  /** Requests running now. */
  inFlight = 0;
  /** URLs not fetched because robots.txt disallows them. */
  skipped = 0;
  /** URLs already done in the output file (resumed runs). */
  resumed = 0;
  /** Body bytes received. */
  bytes = 0;
  /** The sum of every URL's duration: what fetching them one by one would take. */
  sequentialMs = 0;
  /** Lines for the end of the summary. */
  readonly notes: string[] = [];
  readonly startedAt: number = performance.now();

  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** "12.3 s" or "450 ms". */
export function formatDuration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

/** The status line: "37/100 done · 18.2/s · 64 in flight · 2 errors · 2.03 s". */
export function statusLine(stats: Stats): string {
  const seconds = stats.elapsedMs() / 1000;
  const rate = seconds > 0 ? stats.done / seconds : 0;
  const parts = [
    `${stats.done}/${stats.total} done`,
    `${rate.toFixed(1)}/s`,
    `${stats.inFlight} in flight`,
    `${stats.failed} ${stats.failed === 1 ? "error" : "errors"}`,
    formatBytes(stats.bytes),
    `${seconds.toFixed(1)} s`,
  ];
  if (stats.skipped > 0) parts.splice(4, 0, `${stats.skipped} skipped`);
  return parts.join(" · ");
}

/** Options of the display. */
export interface ProgressOptions {
  /** Where it is drawn (stderr). */
  stream: NodeJS.WriteStream;
  /** Redraw in place (a terminal) or print lines. Default: `stream.isTTY`. */
  tty?: boolean | undefined;
  /** Print nothing. */
  quiet?: boolean | undefined;
  /** Milliseconds between plain lines when not on a terminal (default 2000). */
  interval?: number | undefined;
  /** A word before each line: "crawl", "fetch". */
  label: string;
}

/** The ticker: `run()` draws until cancelled; `finish()` leaves the final state. */
export class Progress {
  readonly #stats: Stats;
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #quiet: boolean;
  readonly #interval: number;
  readonly #label: string;
  #drawn = false;

  constructor(stats: Stats, options: ProgressOptions) {
    this.#stats = stats;
    this.#stream = options.stream;
    this.#tty = options.tty ?? options.stream.isTTY === true;
    this.#quiet = options.quiet === true;
    this.#interval = options.interval ?? 2000;
    this.#label = options.label;
  }

  /** Draw until cancelled: every 100 ms on a terminal, every `interval` ms otherwise. */
  async run(): Promise<void> {
    if (this.#quiet) return;
    for (;;) {
      await sleep(this.#tty ? 100 : this.#interval);
      this.draw();
    }
  }

  /** Draw once now. */
  draw(): void {
    if (this.#quiet) return;
    const line = `${this.#label}: ${statusLine(this.#stats)}`;
    if (this.#tty) {
      const width = this.#stream.columns;
      const fitted = width !== undefined && width > 10 ? line.slice(0, width - 1) : line;
      this.#stream.write(`\r\x1b[2K${fitted}`);
      this.#drawn = true;
    } else {
      this.#stream.write(`${line}\n`);
    }
  }

  /** The work is over: on a terminal, draw the final state and end the line. */
  finish(): void {
    if (this.#quiet || !this.#tty) return;
    this.draw();
    if (this.#drawn) this.#stream.write("\n");
    this.#drawn = false;
  }
}
