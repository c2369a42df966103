/**
 * `aiots crawl`: breadth-first crawl within the start URLs' hosts.
 *
 * The frontier is an aiots `Queue` of (URL, depth); `--concurrency` worker tasks in a `TaskGroup`
 * take pages from it, fetch them (at most `--per-host` at once per host, through a `Semaphore`
 * per host), write their lines and put the new links back. The queue's FIFO order makes it
 * breadth first. `queue.join()` returns when every page put in was processed, and
 * `queue.shutdown()` then ends the workers' loops. robots.txt is read once per host.
 *
 * @module
 */
import { isCancelled, Queue, taskGroup } from "../index.ts";
import type { CrawlOptions } from "./args.ts";
import { startDemoSite } from "./demo-site.ts";
import { normalizeUrl } from "./links.ts";
import { ResultWriter } from "./output.ts";
import { formatDuration, Progress, type Stats } from "./progress.ts";
import { loadResume } from "./resume.ts";
import { parseRobots, RobotsRules } from "./robots.ts";
import { Visitor } from "./visit.ts";

interface Page {
  url: string;
  depth: number;
}

/** robots.txt of each origin, fetched once; pages wait for it before their first request. */
class RobotsCache {
  readonly #visitor: Visitor;
  readonly #rules = new Map<string, RobotsRules>();
  readonly #pending = new Map<string, Promise<RobotsRules>>();

  constructor(visitor: Visitor) {
    this.#visitor = visitor;
  }

  /** The verdict if this origin's robots.txt is known already, else undefined. */
  peek(url: URL): boolean | undefined {
    return this.#rules.get(url.origin)?.allowed(url.pathname + url.search);
  }

  async allowed(url: URL): Promise<boolean> {
    let rules = this.#rules.get(url.origin);
    if (rules === undefined) {
      let pending = this.#pending.get(url.origin);
      if (pending === undefined) {
        pending = this.#fetch(url.origin);
        this.#pending.set(url.origin, pending);
      }
      try {
        rules = await pending;
      } catch (error) {
        this.#pending.delete(url.origin); // cancelled: whoever asks next fetches it again
        throw error;
      }
    }
    return rules.allowed(url.pathname + url.search);
  }

  /**
   * 2xx: obey it. 4xx (no robots.txt): everything is allowed (RFC 9309 §2.3.1.3). 5xx or no
   * answer: everything is allowed too, as Scrapy does, rather than RFC 9309's "assume complete
   * disallow", which would silently crawl nothing from a flaky server.
   */
  async #fetch(origin: string): Promise<RobotsRules> {
    let rules = RobotsRules.allowAll();
    try {
      const response = await this.#visitor.session.get(`${origin}/robots.txt`, {
        maxBodySize: 512 * 1024,
        retries: 1,
      });
      try {
        if (response.status >= 200 && response.status < 300) {
          rules = parseRobots(await response.text(), "aiots");
        }
      } finally {
        response.release();
      }
    } catch (error) {
      if (isCancelled(error)) throw error;
    }
    this.#rules.set(origin, rules);
    return rules;
  }
}

/** The start of a demo crawl, shown before the progress. */
function demoBanner(url: string, pages: number, latency: number, concurrency: number): string {
  return (
    `aiots crawl: demo site at ${url} (${pages} pages, each answers after ${formatDuration(latency)}), ` +
    `concurrency ${concurrency}`
  );
}

/** Run `aiots crawl`; the counters in `stats` are the summary. */
export async function crawlCommand(options: CrawlOptions, stats: Stats): Promise<void> {
  const site = options.demo
    ? await startDemoSite({ pages: options.demoPages, latency: options.demoLatency })
    : undefined;
  try {
    const starts = site === undefined ? options.urls : [site.url];
    if (site !== undefined && !options.quiet) {
      process.stderr.write(
        `${demoBanner(site.url, site.pages, site.latency, options.concurrency)}\n`,
      );
    }
    await crawl(options, starts, stats, site !== undefined);
  } finally {
    await site?.close();
  }
}

async function crawl(
  options: CrawlOptions,
  starts: string[],
  stats: Stats,
  demo: boolean,
): Promise<void> {
  const startUrls = starts.map((s) => normalizeUrl(s)).filter((u): u is string => u !== undefined);
  const hosts = new Set(startUrls.map((u) => new URL(u).host));
  const inScope = (url: string): boolean => hosts.has(new URL(url).host);

  const resume = options.output === undefined ? undefined : loadResume(options.output);
  const done = resume?.done ?? new Set<string>();
  stats.resumed = done.size;
  // The demo's 100 JSON lines would bury the point on a terminal: there they go only to --output.
  const hideLines = demo && options.output === undefined && process.stdout.isTTY === true;
  if (hideLines) {
    stats.notes.push("the JSON lines of the demo are not shown on a terminal: add --output FILE");
  }
  const writer = new ResultWriter(options.output, !hideLines);
  const visitor = new Visitor(options, stats);
  const robots = new RobotsCache(visitor);
  const progress = new Progress(stats, {
    stream: process.stderr,
    quiet: options.quiet,
    interval: options.progressInterval,
    label: "crawl",
  });
  const frontier = new Queue<Page>();
  /** Every URL done, queued or running: a URL is queued at most once. */
  const seen = new Set<string>(done);
  const skipped = new Set<string>();

  const enqueue = (url: string, depth: number): void => {
    if (seen.has(url) || skipped.has(url) || seen.size >= options.maxPages) return;
    const parsed = new URL(url);
    if (robots.peek(parsed) === false) {
      skipped.add(url);
      stats.skipped++;
      return;
    }
    seen.add(url);
    stats.total++;
    frontier.putNowait({ url, depth });
  };

  // The frontier: the start URLs not done yet, and, when resuming, every link of a done page
  // that is not done itself (at the smallest depth it was found at), nearest first.
  const pending = new Map<string, number>();
  for (const url of startUrls) if (!done.has(url)) pending.set(url, 0);
  for (const line of resume?.lines ?? []) {
    const depth = (line.depth ?? 0) + 1;
    if (depth > options.depth) continue;
    for (const link of line.links ?? []) {
      if (done.has(link) || !inScope(link)) continue;
      const known = pending.get(link);
      if (known === undefined || depth < known) pending.set(link, depth);
    }
  }
  for (const [url, depth] of [...pending].sort((a, b) => a[1] - b[1])) enqueue(url, depth);

  const visitPage = async (page: Page): Promise<void> => {
    const url = new URL(page.url);
    if (!(await robots.allowed(url))) {
      // A start URL, or one queued before its host's robots.txt was known.
      skipped.add(page.url);
      stats.skipped++;
      stats.total--;
      return;
    }
    const { line, links } = await visitor.visit(page.url, true);
    line.depth = page.depth;
    line.links = (links ?? []).filter(inScope);
    writer.write(line);
    visitor.count(line);
    if (page.depth < options.depth) {
      for (const link of line.links) enqueue(link, page.depth + 1);
    }
  };

  const worker = async (): Promise<void> => {
    for await (const page of frontier) {
      try {
        await visitPage(page);
      } finally {
        frontier.taskDone();
      }
    }
  };

  try {
    await taskGroup(async (tg) => {
      const ticker = tg.createTask(() => progress.run(), { name: "progress" });
      await taskGroup(async (workers) => {
        for (let i = 0; i < options.concurrency; i++) {
          workers.createTask(worker, { name: `worker-${i}` });
        }
        await frontier.join(); // every page queued so far, and every page they queued, is done
        frontier.shutdown();
      });
      ticker.cancel();
    });
  } finally {
    progress.finish();
    writer.close();
    await visitor.close();
  }
}
