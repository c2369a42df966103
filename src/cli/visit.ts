/**
 * Fetching one URL for the tool, shared by `fetch` and `crawl`: the request through the shared
 * `ClientSession`, under the URL's per-host `Semaphore`; the body streamed into a sha256, a byte
 * count, the link extractor (crawl) and the body store (`--save`); the result as an output line.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ClientSession } from "../http/index.ts";
import { isCancelled, Semaphore } from "../index.ts";
import { isHtml, LinkExtractor } from "./links.ts";
import { BodyStore, type ResultLine } from "./output.ts";
import type { Stats } from "./progress.ts";

/** What the visitor needs from the command line. */
export interface VisitorOptions {
  concurrency: number;
  perHost: number;
  timeout: number;
  retries: number;
  rate: number | null;
  maxBytes: number;
  save: string | undefined;
}

/** The outcome of one URL: its line, and for an HTML page (when asked) its links. */
export interface Visit {
  line: ResultLine;
  links: string[] | undefined;
}

/** "ConnectError: ...": what the output line says about an error. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

export const USER_AGENT = "aiots/0.1 (+https://www.npmjs.com/package/aiots)";

/** Fetches URLs with one session, at most `perHost` at once per host. */
export class Visitor {
  readonly session: ClientSession;
  readonly #perHost: number;
  readonly #hosts = new Map<string, Semaphore>();
  readonly #store: BodyStore | undefined;
  readonly #stats: Stats;

  constructor(options: VisitorOptions, stats: Stats) {
    this.session = new ClientSession({
      headers: { "user-agent": USER_AGENT },
      limit: options.concurrency,
      limitPerHost: options.perHost,
      timeout: { total: options.timeout, connect: Math.min(options.timeout, 10_000) },
      retries: options.retries,
      rateLimit: options.rate,
      maxBodySize: options.maxBytes,
    });
    this.#perHost = options.perHost;
    this.#store = options.save === undefined ? undefined : new BodyStore(options.save);
    this.#stats = stats;
  }

  /** The semaphore of `url`'s host: at most `--per-host` requests to it at once. */
  #semaphore(url: string): Semaphore {
    const host = new URL(url).host;
    let semaphore = this.#hosts.get(host);
    if (semaphore === undefined) {
      semaphore = new Semaphore(this.#perHost);
      this.#hosts.set(host, semaphore);
    }
    return semaphore;
  }

  /**
   * Fetch `url` and describe the result. A failure (connection, timeout, too big, status >= 400)
   * is reported in the line; only a cancellation is thrown.
   */
  visit(url: string, wantLinks: boolean): Promise<Visit> {
    return this.#semaphore(url).withPermit(async () => {
      this.#stats.inFlight++;
      try {
        return await this.#fetch(url, wantLinks);
      } finally {
        this.#stats.inFlight--;
      }
    });
  }

  async #fetch(url: string, wantLinks: boolean): Promise<Visit> {
    const line: ResultLine = {
      url,
      finalUrl: null,
      status: null,
      bytes: 0,
      durationMs: 0,
      contentType: null,
      sha256: null,
      error: null,
    };
    let links: string[] | undefined;
    const started = performance.now();
    try {
      const response = await this.session.get(url);
      try {
        line.finalUrl = response.url;
        line.status = response.status;
        line.contentType = response.contentType ?? null;
        if (response.redirects.length > 0) line.redirects = [...response.redirects];
        const hash = createHash("sha256");
        const parts: Uint8Array[] | undefined = this.#store === undefined ? undefined : [];
        const extractor =
          wantLinks && isHtml(response.contentType)
            ? new LinkExtractor(response.url, response.contentType)
            : undefined;
        let parseFailed = false;
        for await (const chunk of response) {
          hash.update(chunk);
          line.bytes += chunk.length;
          this.#stats.bytes += chunk.length;
          parts?.push(chunk);
          if (extractor !== undefined && !parseFailed) {
            try {
              extractor.write(chunk);
            } catch {
              parseFailed = true; // broken markup is the page's problem: keep what was found
            }
          }
        }
        line.sha256 = hash.digest("hex");
        if (extractor !== undefined) {
          try {
            links = extractor.end();
          } catch {
            links = [];
          }
        }
        if (parts !== undefined && this.#store !== undefined) {
          line.file = await this.#store.save(url, line.contentType, parts);
        }
        if (response.status >= 400) {
          line.error = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
        }
      } finally {
        response.release();
      }
    } catch (error) {
      if (isCancelled(error)) throw error;
      line.error = describeError(error);
    }
    line.durationMs = Math.round(performance.now() - started);
    return { line, links };
  }

  /** Record a written line in the counters. */
  count(line: ResultLine): void {
    const stats = this.#stats;
    stats.done++;
    if (line.error !== null) stats.failed++;
    stats.sequentialMs += line.durationMs;
  }

  close(): Promise<void> {
    return this.session.close();
  }
}
