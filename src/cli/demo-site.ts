/**
 * The built-in demo site for `aiots crawl` with no URL: an HTTP server on 127.0.0.1 (a free
 * port) with `pages` pages that each take `latency` ms to answer, like a slow website. The
 * index links to every page, and each page links to a few others (and to a page that
 * robots.txt disallows, a mailto: link, a fragment), so a crawl finds all of them at depth 1.
 *
 * Fetched one by one, 100 pages at 1 s each take 100 s; a concurrent crawl takes about two
 * latencies (the index, then every page at once).
 *
 * @module
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Options of the demo site. */
export interface DemoSiteOptions {
  /** Pages, the index included (default 100). */
  pages?: number | undefined;
  /** How long each page takes to answer, in ms (default 1000; robots.txt answers at once). */
  latency?: number | undefined;
}

/** A running demo site. */
export interface DemoSite {
  /** The index URL, e.g. "http://127.0.0.1:43210/". */
  url: string;
  pages: number;
  latency: number;
  /** Requests answered so far, and requests the client abandoned. */
  stats: { answered: number; abandoned: number };
  close(): Promise<void>;
}

const ROBOTS = "User-agent: *\nDisallow: /private/\n";

function pagePath(n: number): string {
  return n === 0 ? "/" : `/page/${n}`;
}

function pageHtml(n: number, pages: number): string {
  const links: string[] = [];
  if (n === 0) {
    for (let i = 1; i < pages; i++) links.push(`<li><a href="page/${i}">Page ${i}</a></li>`);
    links.push(`<li><a href="/private/admin">Admin (robots.txt says no)</a></li>`);
  } else {
    // Relative, absolute, dot-segment and fragment forms of links to other pages.
    const next = (n % (pages - 1)) + 1;
    const jump = ((n * 7) % (pages - 1)) + 1;
    links.push(`<li><a href="../">Index</a></li>`);
    links.push(`<li><a href="${next}">Next: page ${next}</a></li>`);
    links.push(`<li><a href="/page/./${jump}#top">Page ${jump}</a></li>`);
    links.push(`<li><a href="#comments">Comments</a></li>`);
    links.push(`<li><a href="mailto:author@example.invalid">Write to the author</a></li>`);
  }
  const text = "A page of the aiots demo site, served slowly on purpose. ".repeat(20);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Demo page ${n}</title></head>
<body><h1>${n === 0 ? "aiots demo site" : `Page ${n}`}</h1>
<p>${text}</p>
<ul>
${links.join("\n")}
</ul></body></html>
`;
}

/** Start the demo site on 127.0.0.1 and a free port. */
export async function startDemoSite(options: DemoSiteOptions = {}): Promise<DemoSite> {
  const pages = options.pages ?? 100;
  const latency = options.latency ?? 1000;
  const stats = { answered: 0, abandoned: 0 };
  const paths = new Map<string, number>();
  for (let i = 0; i < pages; i++) paths.set(pagePath(i), i);

  const send = (res: ServerResponse, status: number, type: string, body: string): void => {
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
    res.end(body);
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://demo").pathname;
    if (path === "/robots.txt") {
      send(res, 200, "text/plain", ROBOTS);
      return;
    }
    const n = paths.get(path);
    const timer = setTimeout(() => {
      stats.answered++;
      if (n === undefined) send(res, 404, "text/plain", "not found\n");
      else send(res, 200, "text/html; charset=utf-8", pageHtml(n, pages));
    }, latency);
    res.on("close", () => {
      if (res.writableFinished) return;
      clearTimeout(timer); // the client gave up (Ctrl-C): stop working on it
      stats.abandoned++;
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    pages,
    latency,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
