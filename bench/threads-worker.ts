/**
 * The jobs of bench/threads.bench.ts as a worker module, for the subjects that load jobs from a
 * file (piscina, tinypool, and aiots' module jobs). Each function is also written inline in the
 * bench file for aiots' function jobs; keep the two the same.
 *
 * @module
 */

/** The tiny job: the sum of the integers below `n` (10k numbers). */
export function sum(n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += i;
  return s;
}

/** The near-empty job. */
export function echo(x: number): number {
  return x;
}

/** The CPU-heavy job: about 0.3 s for n = 15M on this machine; returns a checksum. */
export function heavy(n: number): number {
  let x = 0;
  for (let i = 0; i < n; i++) x = (x + Math.sqrt(i)) % 1_000_003;
  return Math.floor(x);
}

export default sum;
