/**
 * Links out of an HTML page, with htmlparser2's streaming `Parser` (no DOM): body chunks go in
 * as they arrive, `<a href>` and `<area href>` come out, resolved against the page's URL or its
 * `<base href>`, normalised, and de-duplicated.
 *
 * @module
 */
import { TextDecoder } from "node:util";
import { Parser } from "htmlparser2";

/**
 * The canonical form of a URL, or undefined when it is not an http(s) URL: the scheme and host
 * lower-cased, the default port dropped, the path's `.` and `..` segments resolved, the
 * fragment removed (the WHATWG URL parser does all but the last).
 *
 * @example
 * normalizeUrl("HTTP://Example.COM:80/a/./b/../c#top") // "http://example.com/a/c"
 */
export function normalizeUrl(input: string, base?: string | URL): string | undefined {
  let url: URL;
  try {
    url = new URL(input, base);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.hash !== "") url.hash = "";
  return url.href;
}

/** The charset named by a content type, when TextDecoder knows it; utf-8 otherwise. */
function decoderFor(contentType: string | undefined): TextDecoder {
  const charset = contentType === undefined ? undefined : /charset="?([^";\s]+)/i.exec(contentType);
  if (charset?.[1] !== undefined) {
    try {
      return new TextDecoder(charset[1]);
    } catch {
      // unknown label: utf-8
    }
  }
  return new TextDecoder();
}

/** True for content types the crawler parses for links. */
export function isHtml(contentType: string | undefined): boolean {
  return (
    contentType !== undefined && /^\s*(text\/html|application\/xhtml\+xml)\b/i.test(contentType)
  );
}

/**
 * Feeds an HTML body to htmlparser2 chunk by chunk and collects the links.
 *
 * @example
 * const links = new LinkExtractor("http://example.com/dir/page.html");
 * links.write(chunk); // for each body chunk
 * links.end(); // ["http://example.com/dir/other.html", ...]
 */
export class LinkExtractor {
  readonly #pageUrl: string;
  readonly #decoder: TextDecoder;
  readonly #parser: Parser;
  readonly #hrefs: string[] = [];
  #base: string | undefined;

  constructor(pageUrl: string, contentType?: string) {
    this.#pageUrl = pageUrl;
    this.#decoder = decoderFor(contentType);
    this.#parser = new Parser(
      {
        onopentag: (name, attributes) => {
          const href = attributes.href;
          if (href === undefined) return;
          if (name === "a" || name === "area") this.#hrefs.push(href);
          // The document's base URL is the first <base href> (HTML §4.2.3), wherever it is.
          else if (name === "base" && this.#base === undefined) this.#base = href;
        },
      },
      { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
    );
  }

  /** Parse the next chunk of the body. */
  write(chunk: Uint8Array): void {
    this.#parser.write(this.#decoder.decode(chunk, { stream: true }));
  }

  /**
   * Finish parsing; returns the page's links, absolute, normalised and de-duplicated, in
   * document order. `mailto:`, `javascript:` and other non-http(s) links and bare fragments
   * (`#section`) are dropped.
   */
  end(): string[] {
    this.#parser.write(this.#decoder.decode());
    this.#parser.end();
    const page = this.#pageUrl;
    const base = this.#base === undefined ? page : (normalizeUrl(this.#base, page) ?? page);
    const links = new Set<string>();
    for (const raw of this.#hrefs) {
      const href = raw.trim();
      if (href === "" || href.startsWith("#")) continue;
      const url = normalizeUrl(href, base);
      if (url !== undefined) links.add(url);
    }
    return [...links];
  }
}
