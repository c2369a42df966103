/**
 * `aiots fetch`: fetch a list of URLs concurrently.
 *
 * The shape of the program is asyncio's producer/consumer: the body of a `TaskGroup` reads URLs
 * (arguments, a file or stdin) into a bounded `Queue`, `--concurrency` worker tasks take them
 * out, and a ticker task draws the progress. A full queue makes the reader wait, so a list of
 * millions of URLs is never all in memory. Ctrl-C cancels the group: the reader stops, the
 * requests in flight are aborted, and every finished URL is already in the output.
 *
 * @module
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { currentTask, Queue, taskGroup } from "../index.ts";
import type { FetchOptions } from "./args.ts";
import { normalizeUrl } from "./links.ts";
import { ResultWriter } from "./output.ts";
import { Progress, type Stats } from "./progress.ts";
import { loadResume } from "./resume.ts";
import { Visitor } from "./visit.ts";

/** The URLs to fetch, one by one, as they are read. */
async function* urlSource(options: FetchOptions): AsyncGenerator<string, void, undefined> {
  if (options.urls.length > 0) {
    yield* options.urls;
    if (options.input === undefined) return;
  }
  const fromStdin = options.input === undefined || options.input === "-";
  const input = fromStdin ? process.stdin : createReadStream(options.input as string);
  // The task's signal closes the reader when the task is cancelled (Ctrl-C while waiting for
  // a line on stdin).
  const signal = currentTask()?.signal;
  const lines = createInterface({
    input,
    crlfDelay: Number.POSITIVE_INFINITY,
    ...(signal && { signal }),
  });
  try {
    for await (const line of lines) {
      const url = line.trim();
      if (url !== "" && !url.startsWith("#")) yield url;
    }
  } finally {
    lines.close();
    if (fromStdin) process.stdin.pause();
  }
}

/** Run `aiots fetch`; the counters in `stats` are the summary. */
export async function fetchCommand(options: FetchOptions, stats: Stats): Promise<void> {
  const resume = options.output === undefined ? undefined : loadResume(options.output);
  const done = resume?.done ?? new Set<string>();
  stats.resumed = done.size;
  const writer = new ResultWriter(options.output);
  const visitor = new Visitor(options, stats);
  const progress = new Progress(stats, {
    stream: process.stderr,
    quiet: options.quiet,
    interval: options.progressInterval,
    label: "fetch",
  });
  const queue = new Queue<string>(options.concurrency * 2);
  const seen = new Set<string>();

  const worker = async (): Promise<void> => {
    for await (const url of queue) {
      const { line } = await visitor.visit(url, false);
      writer.write(line);
      visitor.count(line);
    }
  };

  try {
    await taskGroup(async (tg) => {
      const ticker = tg.createTask(() => progress.run(), { name: "progress" });
      await taskGroup(async (workers) => {
        for (let i = 0; i < options.concurrency; i++) {
          workers.createTask(worker, { name: `worker-${i}` });
        }
        for await (const raw of urlSource(options)) {
          const url = normalizeUrl(raw);
          if (url === undefined) {
            // Not fetchable: reported like any other failure (once per distinct input).
            if (seen.has(raw) || done.has(raw)) continue;
            seen.add(raw);
            stats.total++;
            const line = {
              url: raw,
              finalUrl: null,
              status: null,
              bytes: 0,
              durationMs: 0,
              contentType: null,
              sha256: null,
              error: "InvalidUrl: not an http(s) URL",
            };
            writer.write(line);
            visitor.count(line);
            continue;
          }
          if (seen.has(url) || done.has(url)) continue;
          seen.add(url);
          stats.total++;
          await queue.put(url); // waits while the workers are busy and the queue is full
        }
        queue.shutdown(); // the workers finish what is queued, then their loops end
      });
      ticker.cancel();
    });
  } finally {
    progress.finish();
    writer.close();
    await visitor.close();
  }
}
