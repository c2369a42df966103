/**
 * The tool's output: one JSON line per URL, to stdout or appended to a file, and optionally the
 * bodies in a directory.
 *
 * Each line is written with a single `write` call, in full, the moment its result is known. On
 * a file opened for appending, a kill -9 at any moment therefore leaves every earlier line
 * whole and at most the last one cut short; resuming drops such a tail (see resume.ts).
 *
 * @module
 */
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** The result of one URL: the line the tool writes. */
export interface ResultLine {
  /** The URL as requested (normalised). */
  url: string;
  /** The URL of the final response, after redirects (null when there was no response). */
  finalUrl: string | null;
  /** The HTTP status (null when there was no response). */
  status: number | null;
  /** Body bytes received. */
  bytes: number;
  /** From sending the request to the end of the body, in ms. */
  durationMs: number;
  /** The response's content type, if any. */
  contentType: string | null;
  /** sha256 of the whole body, hex (null when the body was not read to its end). */
  sha256: string | null;
  /** What went wrong ("HTTP 404", "ConnectError: ..."), or null. */
  error: string | null;
  /** The redirect chain, when there was one. */
  redirects?: string[];
  /** The body's file under `--save DIR`. */
  file?: string;
  /** crawl: the distance from a start URL, in links. */
  depth?: number;
  /** crawl: the page's links within the crawl's hosts (normalised, de-duplicated). */
  links?: string[];
}

/** Where result lines go. */
export class ResultWriter {
  readonly #fd: number | undefined;
  #stdout: boolean;
  #lines = 0;

  /**
   * @param path a file to append to (created if missing), or undefined for stdout.
   * @param toStdout when there is no file: write to stdout (false: discard, for the demo on a
   *   terminal).
   */
  constructor(path: string | undefined, toStdout = true) {
    this.#fd = path === undefined ? undefined : openSync(path, "a");
    this.#stdout = path === undefined && toStdout;
    if (this.#stdout) {
      // `aiots fetch ... | head`: once the reader is gone, stop writing instead of crashing.
      process.stdout.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code !== "EPIPE") throw error;
        this.#stdout = false;
      });
    }
  }

  /** Lines written so far. */
  get lines(): number {
    return this.#lines;
  }

  /** Write one line: a single write call, so it is all there or, after a crash, cut last. */
  write(line: ResultLine): void {
    const text = `${JSON.stringify(line)}\n`;
    if (this.#fd !== undefined) writeSync(this.#fd, text);
    else if (this.#stdout) process.stdout.write(text);
    this.#lines++;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
  }
}

const EXTENSIONS: [RegExp, string][] = [
  [/html/i, ".html"],
  [/json/i, ".json"],
  [/xml/i, ".xml"],
  [/^text\//i, ".txt"],
];

/** Keeps response bodies in a directory, one file per URL, named by a hash of the URL. */
export class BodyStore {
  readonly #dir: string;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.#dir = dir;
  }

  /**
   * Save `body` for `url`; returns the file name (relative to the directory). Written to a
   * temporary name and renamed, so a file that exists is complete.
   */
  async save(url: string, contentType: string | null, body: Uint8Array[]): Promise<string> {
    const ext = EXTENSIONS.find(([re]) => re.test(contentType ?? ""))?.[1] ?? ".bin";
    const name = `${createHash("sha256").update(url).digest("hex").slice(0, 24)}${ext}`;
    const path = join(this.#dir, name);
    const partial = `${path}.part`;
    await writeFile(partial, body);
    await rename(partial, path);
    return name;
  }
}
