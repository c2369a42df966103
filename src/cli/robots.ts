/**
 * robots.txt (RFC 9309): groups of `User-agent` lines followed by `Allow`/`Disallow` rules.
 * The crawler obeys the group that names its product token, else the `*` group; within it the
 * longest matching rule wins, and `Allow` wins a tie. `*` in a rule matches any run of
 * characters and a final `$` anchors it at the end of the path.
 *
 * @module
 */

interface Rule {
  allow: boolean;
  /** The rule's length, for "the longest match wins". */
  length: number;
  pattern: RegExp;
}

function compile(path: string): RegExp {
  const anchored = path.endsWith("$");
  const body = anchored ? path.slice(0, -1) : path;
  const source = body
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}${anchored ? "$" : ""}`);
}

/** Percent-decode what is safe to compare (unreserved characters) so /a%2Db matches /a-b. */
function canonicalPath(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (match, hex: string) => {
    const c = String.fromCharCode(Number.parseInt(hex, 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : match.toUpperCase();
  });
}

/** The rules of one robots.txt for one user agent. */
export class RobotsRules {
  readonly #rules: Rule[];

  constructor(rules: Rule[]) {
    this.#rules = rules;
  }

  /** Rules that allow everything (no robots.txt, or one that could not be read). */
  static allowAll(): RobotsRules {
    return new RobotsRules([]);
  }

  /** Rules that forbid everything. */
  static disallowAll(): RobotsRules {
    return new RobotsRules([{ allow: false, length: 1, pattern: /^\// }]);
  }

  /** May the crawler fetch `pathAndQuery` (e.g. "/a/b?c=1")? */
  allowed(pathAndQuery: string): boolean {
    if (pathAndQuery === "/robots.txt") return true;
    const path = canonicalPath(pathAndQuery);
    let best: Rule | undefined;
    for (const rule of this.#rules) {
      if (!rule.pattern.test(path)) continue;
      if (
        best === undefined ||
        rule.length > best.length ||
        (rule.length === best.length && rule.allow && !best.allow)
      ) {
        best = rule;
      }
    }
    return best === undefined || best.allow;
  }
}

/**
 * Parse a robots.txt for the product token `agent` (e.g. "aiots"). Unknown lines and fields
 * (Sitemap, Crawl-delay, garbage) are ignored, as the RFC asks.
 */
export function parseRobots(text: string, agent: string): RobotsRules {
  const token = agent.toLowerCase();
  // Groups: consecutive User-agent lines start one; its rules follow until the next User-agent
  // line that comes after a rule.
  const groups: { agents: string[]; rules: Rule[] }[] = [];
  let current: { agents: string[]; rules: Rule[] } | undefined;
  let inRules = false;
  for (const rawLine of text.split(/\r\n|\r|\n/)) {
    const line = rawLine.replace(/#.*$/, "").trim();
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const field = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (field === "user-agent") {
      if (current === undefined || inRules) {
        current = { agents: [], rules: [] };
        groups.push(current);
        inRules = false;
      }
      current.agents.push(value.toLowerCase());
    } else if (field === "allow" || field === "disallow") {
      if (current === undefined) continue; // rules before any User-agent line belong to no group
      inRules = true;
      if (value === "") continue; // "Disallow:" with no path allows everything
      const path = canonicalPath(
        value.startsWith("/") || value.startsWith("*") ? value : `/${value}`,
      );
      current.rules.push({ allow: field === "allow", length: path.length, pattern: compile(path) });
    }
  }
  const matches = (g: { agents: string[] }, name: string) =>
    g.agents.some((a) => (name === "*" ? a === "*" : a === name || a.startsWith(`${name}/`)));
  let chosen = groups.filter((g) => matches(g, token));
  if (chosen.length === 0) chosen = groups.filter((g) => matches(g, "*"));
  // Several groups for the same agent are combined (RFC 9309 §2.2.1).
  return new RobotsRules(chosen.flatMap((g) => g.rules));
}
