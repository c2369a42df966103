/**
 * What the pool (worker-pool.ts) and its workers (worker-entry.ts) agree on: the messages they
 * exchange, the per-job state cells they share, and the marker that moves a value instead of
 * copying it.
 *
 * Each worker owns a small window of job slots in a `SharedArrayBuffer`; the pool may post up to
 * `WINDOW` jobs to a worker before the first one is answered (so a worker never idles through a
 * round trip on tiny jobs). A job's slot says whether it has started:
 *
 *     pool posts job           QUEUED
 *     worker claims it         QUEUED -> RUNNING   (compare-and-swap; a failed claim skips it)
 *     worker is done           RUNNING -> DONE, then posts the reply
 *     pool takes it back       QUEUED -> REVOKED   (compare-and-swap; fails once it started)
 *
 * Both sides use compare-and-swap, so a job is either started by the worker or taken back by the
 * pool, never both: that is what lets the pool cancel a queued job, move it to an idle worker,
 * or terminate a worker knowing exactly which job dies with it.
 *
 * @internal
 * @module
 */
import type { Transferable } from "node:worker_threads";
import { typeError } from "./validate.ts";

/** How many jobs the pool may post to one worker before the first is answered. */
export const WINDOW = 8;

// Slot states.
export const FREE = 0;
export const QUEUED = 1;
export const RUNNING = 2;
export const DONE = 3;
export const REVOKED = 4;

// Pool -> worker. A job is `[slot, id, ...args]`. The first time a worker is to run a given
// function or module export, a definition comes first: `[DEFINE, id, FN, source, name]` or
// `[DEFINE, id, MOD, url, exportName]`. Jobs are small, and tiny jobs are dominated by the cost
// of one message each way, so the messages are flat arrays.
export const DEFINE = -1;
export const FN = 0;
export const MOD = 1;

export type JobMessage = [slot: number, id: number, ...args: unknown[]];
export type DefineMessage = [
  define: typeof DEFINE,
  id: number,
  kind: typeof FN | typeof MOD,
  text: string,
  name: string,
];

// Worker -> pool, told apart by length: `[slot, value]` (succeeded), `[slot, error, ERR]`
// (failed: a SerializedError or the thrown value), `[slot]` (skipped: the pool took it back).
export const ERR = 1;
export type ReplyMessage = [slot: number, value?: unknown, failed?: typeof ERR];

/** What the worker sends for a thrown `Error` (a structured clone would lose name and fields). */
export interface SerializedError {
  readonly [SERIALIZED]: true;
  name: string;
  message: string;
  stack: string | undefined;
  /** Own fields with primitive values (`code`, `errno`, ...). */
  fields: Record<string, unknown>;
  cause?: unknown;
  /** The members of an AggregateError. */
  errors?: unknown[];
}

/** Marks a `SerializedError`. A string key, so that it survives the structured clone. */
export const SERIALIZED = "__aiotsSerializedError";

/** The brand of a `transfer()` marker; `Symbol.for`, so that every copy of aiots agrees. */
export const TRANSFER_KEY = "aiots.transfer";
export const TRANSFER: unique symbol = Symbol.for(TRANSFER_KEY) as never;

/** A value to move rather than copy, and what to move with it. */
export interface TransferMarker {
  readonly [TRANSFER]: readonly Transferable[];
  readonly value: unknown;
}

export function isTransferMarker(value: unknown): value is TransferMarker {
  return (
    typeof value === "object" &&
    value !== null &&
    Array.isArray((value as Partial<TransferMarker>)[TRANSFER])
  );
}

/** The list to move for `value` when none is given: the value's own buffer or port. */
export function defaultTransferList(value: unknown): Transferable[] | undefined {
  if (value instanceof ArrayBuffer) return [value];
  if (ArrayBuffer.isView(value)) {
    return value.buffer instanceof ArrayBuffer ? [value.buffer] : [];
  }
  if (typeof MessagePort !== "undefined" && value instanceof MessagePort) return [value];
  return undefined;
}

/** Build a marker (see `transfer()` in to-thread.ts, and `this.transfer` in a job). */
export function makeTransferMarker<T>(value: T, list: readonly Transferable[] | undefined): T {
  const moved = list ?? defaultTransferList(value);
  if (moved === undefined) {
    throw typeError(
      "transfer()",
      "transferList",
      "given for a value that is not an ArrayBuffer, a typed array or a MessagePort (list the buffers to move)",
      list,
    );
  }
  if (!Array.isArray(moved)) {
    throw typeError("transfer()", "transferList", "an array of transferable objects", moved);
  }
  const marker: TransferMarker = { [TRANSFER]: moved, value };
  return marker as T;
}
