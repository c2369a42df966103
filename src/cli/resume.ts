/**
 * Resuming: re-running with the same `--output FILE` reads what the file already holds, and the
 * run does only what is missing.
 *
 * The file is the journal. A URL is done exactly when its line is in the file; a line is
 * appended in one write, only once the URL is finished. So after a Ctrl-C, a crash or a kill -9:
 * - every URL with a line is done and is skipped by the next run;
 * - a URL that was in flight has no line and is fetched again by the next run;
 * - at most the last line is cut short (the kill landed inside its write): it is not a result,
 *   and it is cut off the file before anything is appended.
 * A crawl's frontier is rebuilt from the `links` its lines recorded: every link of a done page
 * that is not done itself is queued again, at its depth. Together: the union of the outputs has
 * every URL exactly once.
 *
 * @module
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync } from "node:fs";
import type { ResultLine } from "./output.ts";

/** What an existing output file says. */
export interface ResumeState {
  /** The URLs that have a line. */
  done: Set<string>;
  /** The lines, parsed (only well-formed ones). */
  lines: ResultLine[];
  /** Bytes of a cut-short last line that were removed from the file (0 if none). */
  truncatedBytes: number;
}

function isResultLine(value: unknown): value is ResultLine {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ResultLine).url === "string" &&
    "status" in value
  );
}

/**
 * Read `path` (a missing file is an empty journal) and cut off a partial last line.
 * Lines that are not results (not JSON, or JSON of another shape) are ignored.
 */
export function loadResume(path: string): ResumeState {
  const state: ResumeState = { done: new Set(), lines: [], truncatedBytes: 0 };
  if (!existsSync(path)) return state;
  const data = readFileSync(path);
  const lastNewline = data.lastIndexOf(0x0a);
  const complete = lastNewline + 1;
  if (complete < data.length) {
    const fd = openSync(path, "r+");
    try {
      ftruncateSync(fd, complete);
    } finally {
      closeSync(fd);
    }
    state.truncatedBytes = data.length - complete;
  }
  const text = data.subarray(0, complete).toString("utf8");
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (!isResultLine(value)) continue;
    state.done.add(value.url);
    state.lines.push(value);
  }
  return state;
}
