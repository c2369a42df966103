/**
 * The byte buffer behind a StreamReader (the `bytearray` of asyncio's StreamReader).
 *
 * One contiguous region of one Buffer, so that a separator is found with a single `indexOf`
 * however the bytes arrived:
 *
 *     #buf:  [ handed out | live: #start .. #end | free (ours to write) ]
 *
 * Bytes taken from the front are handed out as views (`subarray`), never copied, so the buffer
 * must never write over them again: appends go to the free tail of a buffer we allocated, and
 * when it is full the live bytes move to a new, larger allocation (doubling, so appending is
 * amortised O(1)); the old one is left to the views. A chunk that arrives while the buffer is
 * empty is adopted as it is, without a copy (the common case for a socket read by a fast reader).
 *
 * @internal
 * @module
 */

const EMPTY: Buffer = Buffer.alloc(0);

/** The smallest allocation when the buffer has to copy. */
const MIN_CAPACITY = 1024;

/** @internal */
export class ByteBuffer {
  #buf: Buffer = EMPTY;
  #start = 0;
  #end = 0;
  // Whether the bytes of #buf after #end are ours to write (false for an adopted chunk).
  #owned = false;

  /** How many bytes are buffered. */
  get length(): number {
    return this.#end - this.#start;
  }

  /**
   * Append `chunk`. With `adopt`, an empty buffer keeps the chunk itself instead of a copy: the
   * caller promises never to modify it (a socket's chunk, which Node never reuses).
   */
  push(chunk: Uint8Array, adopt: boolean): void {
    const n = chunk.length;
    if (n === 0) return;
    const size = this.#end - this.#start;
    if (size === 0 && adopt) {
      this.#buf = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      this.#start = 0;
      this.#end = n;
      this.#owned = false;
      return;
    }
    if (this.#owned && this.#end + n <= this.#buf.length) {
      this.#buf.set(chunk, this.#end);
      this.#end += n;
      return;
    }
    const next = Buffer.allocUnsafe(Math.max(size + n, 2 * size, MIN_CAPACITY));
    this.#buf.copy(next, 0, this.#start, this.#end);
    next.set(chunk, size);
    this.#buf = next;
    this.#start = 0;
    this.#end = size + n;
    this.#owned = true;
  }

  /** Remove and return the first `n` bytes (at most `length`), as a view. */
  take(n: number): Buffer {
    const start = this.#start;
    const end = Math.min(this.#end, start + n);
    this.#start = end;
    const buf = this.#buf;
    // All of an adopted chunk (a socket read taken whole): the chunk itself, no new view.
    if (start === 0 && end === buf.length) return buf;
    return buf.subarray(start, end);
  }

  /** Drop the first `n` bytes (at most `length`). */
  skip(n: number): void {
    this.#start = Math.min(this.#end, this.#start + n);
  }

  /** Remove and return everything. */
  takeAll(): Buffer {
    return this.take(this.#end - this.#start);
  }

  clear(): void {
    this.#start = this.#end;
  }

  /** The position of `needle` at or after `from` (relative to the first buffered byte), or -1. */
  indexOf(needle: Uint8Array, from: number): number {
    if (this.#end - this.#start - from < needle.length) return -1;
    return this.#buf.subarray(this.#start, this.#end).indexOf(needle, from);
  }

  /** Whether the buffered bytes at `at` are `prefix`. */
  startsWith(prefix: Uint8Array, at: number): boolean {
    const from = this.#start + at;
    if (from + prefix.length > this.#end) return false;
    return this.#buf.compare(prefix, 0, prefix.length, from, from + prefix.length) === 0;
  }

  /** A copy of the buffered bytes, for debugging and `toString()`. */
  peek(): Buffer {
    return Buffer.from(this.#buf.subarray(this.#start, this.#end));
  }
}
