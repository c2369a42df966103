/**
 * Every error class aiots raises, in one place (asyncio's exceptions.py).
 *
 * Each class sets `name` to its own class name and carries a stable `code`. `instanceof` works
 * across duplicate copies of the package (and after a structured clone has turned an error into a
 * plain `Error` with the same `name`) because each class checks a brand registered with
 * `Symbol.for`, the way undici's errors do.
 *
 * @module
 */

const brand: unique symbol = Symbol.for("aiots.error.brand") as never;

interface Branded {
  readonly [brand]?: string;
}

function hasBrand(value: unknown, code: string): boolean {
  if (typeof value !== "object" || value === null) return false;
  // Walk the chain of brands: a subclass instance carries its own code and its parents' codes.
  let proto: unknown = value;
  while (proto !== null && typeof proto === "object") {
    if (Object.hasOwn(proto, brand) && (proto as Branded)[brand] === code) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

function defineBrand(cls: { prototype: object; name: string }, code: string): void {
  Object.defineProperty(cls.prototype, brand, { value: code });
  Object.defineProperty(cls.prototype, "name", {
    value: cls.name,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (instance: unknown): boolean => hasBrand(instance, code),
  });
}

/**
 * Raised into a task at the await where it is suspended when the task is cancelled.
 *
 * Mirrors `asyncio.CancelledError`. Python makes it a `BaseException` so that `except Exception`
 * cannot swallow it; JavaScript has no such split, so catch blocks should re-throw it:
 * `catch (e) { if (isCancelled(e)) throw e; ... }`.
 *
 * `message` is the message passed to `cancel(msg)` (empty when none was given).
 */
export class CancelledError extends Error {
  readonly code: string = "AIOTS_ERR_CANCELLED";
  constructor(message?: string, options?: ErrorOptions) {
    super(message ?? "", options);
  }
}
defineBrand(CancelledError, "AIOTS_ERR_CANCELLED");

/**
 * Raised by `timeout`, `timeoutAt`, `waitFor` and `asCompleted` when the deadline passes. Its
 * `cause` is the `CancelledError` that interrupted the work.
 */
export class TimeoutError extends Error {
  readonly code: string = "AIOTS_ERR_TIMEOUT";
  constructor(message?: string, options?: ErrorOptions) {
    super(message ?? "", options);
  }
}
defineBrand(TimeoutError, "AIOTS_ERR_TIMEOUT");

/** Raised when an operation is not allowed in an object's current state (`asyncio.InvalidStateError`). */
export class InvalidStateError extends Error {
  readonly code: string = "AIOTS_ERR_INVALID_STATE";
}
defineBrand(InvalidStateError, "AIOTS_ERR_INVALID_STATE");

/** Raised for misuse: no running loop, nested `run()`, a group that is shutting down, ... */
export class RuntimeError extends Error {
  readonly code: string = "AIOTS_ERR_RUNTIME";
}
defineBrand(RuntimeError, "AIOTS_ERR_RUNTIME");

/** Raised by `run()` when the main task was cancelled by Ctrl-C (Python's `KeyboardInterrupt`). */
export class KeyboardInterrupt extends Error {
  readonly code: string = "AIOTS_ERR_KEYBOARD_INTERRUPT";
  constructor(message?: string, options?: ErrorOptions) {
    super(message ?? "", options);
  }
}
defineBrand(KeyboardInterrupt, "AIOTS_ERR_KEYBOARD_INTERRUPT");

/** Raised by `Barrier.wait()` when the barrier is broken or reset while waiting. */
export class BrokenBarrierError extends RuntimeError {
  override readonly code: string = "AIOTS_ERR_BROKEN_BARRIER";
}
defineBrand(BrokenBarrierError, "AIOTS_ERR_BROKEN_BARRIER");

/** Raised by `Queue.getNowait()` on an empty queue. */
export class QueueEmpty extends Error {
  readonly code: string = "AIOTS_ERR_QUEUE_EMPTY";
}
defineBrand(QueueEmpty, "AIOTS_ERR_QUEUE_EMPTY");

/** Raised by `Queue.putNowait()` on a full queue. */
export class QueueFull extends Error {
  readonly code: string = "AIOTS_ERR_QUEUE_FULL";
}
defineBrand(QueueFull, "AIOTS_ERR_QUEUE_FULL");

/** Raised by queue operations after `Queue.shutdown()`. */
export class QueueShutDown extends Error {
  readonly code: string = "AIOTS_ERR_QUEUE_SHUT_DOWN";
}
defineBrand(QueueShutDown, "AIOTS_ERR_QUEUE_SHUT_DOWN");

/**
 * Raised by `readexactly()`/`readuntil()` when the stream ends first. `partial` holds the bytes
 * read before the end; `expected` is how many were wanted (`null` when unknown).
 */
export class IncompleteReadError extends Error {
  readonly code: string = "AIOTS_ERR_INCOMPLETE_READ";
  readonly partial: Uint8Array;
  readonly expected: number | null;
  constructor(partial: Uint8Array, expected: number | null) {
    super(
      `${partial.length} bytes read on a total of ${expected === null ? "undefined" : expected} expected bytes`,
    );
    this.partial = partial;
    this.expected = expected;
  }
}
defineBrand(IncompleteReadError, "AIOTS_ERR_INCOMPLETE_READ");

/** Raised by `readuntil()`/`readline()` when no separator was found within the buffer limit. */
export class LimitOverrunError extends Error {
  readonly code: string = "AIOTS_ERR_LIMIT_OVERRUN";
  readonly consumed: number;
  constructor(message: string, consumed: number) {
    super(message);
    this.consumed = consumed;
  }
}
defineBrand(LimitOverrunError, "AIOTS_ERR_LIMIT_OVERRUN");

type ErrorPredicate = ((e: unknown) => boolean) | (abstract new (...args: never[]) => unknown);

function toPredicate(condition: ErrorPredicate): (e: unknown) => boolean {
  if (typeof condition !== "function") {
    throw new TypeError(
      `ExceptionGroup: condition must be an error class or a predicate, got ${String(condition)}`,
    );
  }
  // An error class is matched with instanceof; any other function is a predicate.
  const proto: unknown = condition.prototype;
  if (proto === Error.prototype || proto instanceof Error) {
    const cls = condition as abstract new (...args: never[]) => unknown;
    return (e) => e instanceof cls;
  }
  return condition as (e: unknown) => boolean;
}

/**
 * Several errors raised together, as `TaskGroup` does (Python's `ExceptionGroup`).
 *
 * Extends `AggregateError`: `errors` and `exceptions` are the same array. `split()` and
 * `subgroup()` take a class or a predicate and keep the nesting, like Python's `except*`.
 */
export class ExceptionGroup extends AggregateError {
  readonly code: string = "AIOTS_ERR_EXCEPTION_GROUP";
  readonly exceptions: readonly unknown[];
  constructor(message: string, exceptions: Iterable<unknown>, options?: ErrorOptions) {
    const list = [...exceptions];
    if (list.length === 0) {
      throw new RangeError("ExceptionGroup: exceptions must be a non-empty list, got []");
    }
    super(list, message, options);
    this.exceptions = list;
  }

  /** A new group with the same message, cause and the given members (Python's `derive`). */
  derive(exceptions: Iterable<unknown>): ExceptionGroup {
    return new ExceptionGroup(this.message, exceptions, { cause: this.cause });
  }

  /** The members (searched recursively) that match, as a group of the same shape, or `undefined`. */
  subgroup(condition: ErrorPredicate): ExceptionGroup | undefined {
    return this.split(condition)[0];
  }

  /** `[matching, rest]`: two groups of the same shape, either of which may be `undefined`. */
  split(condition: ErrorPredicate): [ExceptionGroup | undefined, ExceptionGroup | undefined] {
    const test = toPredicate(condition);
    if (test(this)) return [this, undefined];
    const match: unknown[] = [];
    const rest: unknown[] = [];
    for (const e of this.exceptions) {
      if (e instanceof ExceptionGroup) {
        const [m, r] = e.split(test);
        if (m) match.push(m);
        if (r) rest.push(r);
      } else if (test(e)) {
        match.push(e);
      } else {
        rest.push(e);
      }
    }
    return [
      match.length > 0 ? this.derive(match) : undefined,
      rest.length > 0 ? this.derive(rest) : undefined,
    ];
  }
}
defineBrand(ExceptionGroup, "AIOTS_ERR_EXCEPTION_GROUP");

/**
 * True if `error` is a cancellation: a `CancelledError`, or the `AbortError` that a Node API
 * (`fs`, `timers/promises`, `child_process`, ...) throws when a task's `signal` aborted it, whose
 * `cause` is the task's `CancelledError`. Use it first in a `catch` block and re-throw, so that a
 * cancellation is never mistaken for a failure.
 *
 * @example
 * try { await work() } catch (e) { if (isCancelled(e)) throw e; log(e) }
 */
export function isCancelled(error: unknown): error is Error {
  return asCancelledError(error) !== undefined;
}

/** @internal The CancelledError that `error` is or stands for (see `isCancelled`). */
export function asCancelledError(error: unknown): CancelledError | undefined {
  if (error instanceof CancelledError) return error;
  if (
    error instanceof Error &&
    error.name === "AbortError" &&
    error.cause instanceof CancelledError
  ) {
    return error.cause;
  }
  return undefined;
}
