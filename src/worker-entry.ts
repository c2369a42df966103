/**
 * The program every pool worker runs (see worker-pool.ts): it takes jobs from the pool one at a
 * time, in the order they were posted, and answers each one.
 *
 * `workerMain` is self-contained: the pool starts each worker from its source text
 * (`new Worker(source, { eval: true })`), already plain JavaScript, so a worker starts in a few
 * milliseconds, with no file to locate and no TypeScript to strip. It may therefore use nothing
 * from outside its own body: what it needs comes in as arguments.
 *
 * A function job arrives as source text the first time a worker sees it, and is compiled once;
 * later jobs name it by id. A module job names a module URL and an export; the module is
 * imported once per worker. A job claims its slot before it starts and gives up if the pool took
 * it back (see thread-protocol.ts). An async job is awaited before the next one starts, so one
 * worker never runs two jobs at once.
 *
 * @internal
 * @module
 */
import type { DefineMessage, JobMessage, SerializedError } from "./thread-protocol.ts";

/** The protocol constants, passed in (see thread-protocol.ts). */
export interface WorkerConstants {
  readonly DEFINE: number;
  readonly FN: number;
  readonly ERR: number;
  readonly QUEUED: number;
  readonly RUNNING: number;
  readonly DONE: number;
  readonly SERIALIZED: string;
  readonly TRANSFER_KEY: string;
}

/** Runs inside the worker; see the module comment for why it imports nothing. */
export function workerMain(
  threads: typeof import("node:worker_threads"),
  k: WorkerConstants,
): void {
  type Fn = (...args: unknown[]) => unknown;
  /** A function or a module export, as defined by the pool. */
  interface Definition {
    readonly kind: number;
    /** The source (function) or the URL (module). */
    readonly text: string;
    /** The function's name, or the export's. */
    readonly name: string;
    /** The compiled function or the export, once known. */
    fn: Fn | undefined;
  }

  const port = threads.parentPort as NonNullable<typeof threads.parentPort>;
  const slots = new Int32Array((threads.workerData as { slots: SharedArrayBuffer }).slots);
  const TRANSFER = Symbol.for(k.TRANSFER_KEY);
  // Built here rather than written as `import(url)`, which source transformers (test runners,
  // bundlers) may rewrite into a call to a helper that does not exist in the worker.
  // oxlint-disable-next-line typescript/no-implied-eval -- a plain dynamic import, on purpose
  const importModule = new Function("url", "return import(url)") as (
    url: string,
  ) => Promise<Record<string, unknown>>;

  /** `this` inside a job: `this.transfer(value)` moves a result instead of copying it. */
  const context = {
    transfer(value: unknown, transferList?: readonly unknown[]): unknown {
      let list = transferList;
      if (list === undefined) {
        if (value instanceof ArrayBuffer) list = [value];
        else if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) {
          list = [value.buffer];
        } else {
          throw new TypeError(
            'transfer(): "transferList" must be given for a value that is not an ArrayBuffer, a typed array or a MessagePort (list the buffers to move)',
          );
        }
      }
      return { [TRANSFER]: list, value };
    },
  };

  const definitions = new Map<number, Definition>();
  const modules = new Map<string, Record<string, unknown> | Promise<Record<string, unknown>>>();
  // Jobs that arrived while an async job was running; run in order once it settles.
  const backlog: JobMessage[] = [];
  let busy = false;

  port.on("message", (message: JobMessage | DefineMessage) => {
    if (message[0] === k.DEFINE) {
      const [, id, kind, text, name] = message as DefineMessage;
      definitions.set(id, { kind, text, name, fn: undefined });
    } else if (busy) {
      backlog.push(message as JobMessage);
    } else {
      drain(message as JobMessage);
    }
  });

  function drain(first: JobMessage): void {
    let message: JobMessage | undefined = first;
    while (message !== undefined) {
      if (start(message)) return; // an async job: resume() continues
      message = backlog.shift();
    }
  }

  function resume(): void {
    busy = false;
    const next = backlog.shift();
    if (next !== undefined) drain(next);
  }

  /** Run one job; true if it went async (the next job waits for it). */
  function start(message: JobMessage): boolean {
    const slot = message[0];
    // The pool may have taken the job back (cancelled, or moved to an idle worker).
    if (Atomics.compareExchange(slots, slot, k.QUEUED, k.RUNNING) !== k.QUEUED) {
      port.postMessage([slot]);
      return false;
    }
    const definition = definitions.get(message[1]) as Definition;
    const args = message.length === 3 ? [message[2]] : message.slice(2);
    let result: unknown;
    try {
      result = call(definition, args);
    } catch (error) {
      fail(slot, error, definition);
      return false;
    }
    if (!isThenable(result)) {
      succeed(slot, result);
      return false;
    }
    busy = true;
    result.then(
      (value) => {
        succeed(slot, value);
        resume();
      },
      (error: unknown) => {
        fail(slot, error, definition);
        resume();
      },
    );
    return true;
  }

  function call(definition: Definition, args: unknown[]): unknown {
    const fn = definition.fn;
    if (fn !== undefined) return fn.apply(context, args);
    if (definition.kind === k.FN) {
      definition.fn = compile(definition.text, definition.name);
      return definition.fn.apply(context, args);
    }
    return load(definition.text).then((namespace) => {
      definition.fn = pick(namespace, definition.text, definition.name);
      return definition.fn.apply(context, args);
    });
  }

  function load(url: string): Promise<Record<string, unknown>> {
    let loaded = modules.get(url);
    if (loaded === undefined) {
      loaded = importModule(url).then(
        (namespace) => {
          modules.set(url, namespace);
          return namespace;
        },
        (error: unknown) => {
          modules.delete(url); // a later job may find the module fixed
          throw error;
        },
      );
      modules.set(url, loaded);
    }
    // A namespace is wrapped rather than resolved with: it could export a `then`.
    return loaded instanceof Promise ? loaded : Promise.resolve({ ...loaded });
  }

  function pick(namespace: Record<string, unknown>, url: string, exportName: string): Fn {
    const fn = namespace[exportName];
    if (typeof fn !== "function") {
      const what = fn === undefined ? "no such export" : `a ${typeof fn}, not a function`;
      throw new TypeError(`module job: export "${exportName}" of ${url} is ${what}`);
    }
    return fn as Fn;
  }

  /**
   * Compile a function from its source. A method (`{ hash(x) {...} }.hash`) prints as `hash(x)
   * {...}`, which is not an expression: it is compiled as an object literal's method instead.
   */
  function compile(source: string, name: string): Fn {
    const label = `//# sourceURL=aiots-thread:${encodeURIComponent(name || "anonymous")}`;
    let fn: unknown;
    try {
      // oxlint-disable-next-line typescript/no-implied-eval -- compiling the job is the point
      fn = new Function(`"use strict";\nreturn (${source}\n);\n${label}`)();
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      try {
        // oxlint-disable-next-line typescript/no-implied-eval -- as above, for a method
        const holder = new Function(`"use strict";\nreturn ({ ${source}\n});\n${label}`)();
        fn = Object.values(holder as object)[0];
      } catch {
        throw new SyntaxError(
          `toThread(): cannot compile the function in the worker thread (${error.message}); pass a function expression, an arrow function or a method`,
        );
      }
    }
    if (typeof fn !== "function") throw new TypeError("toThread(): the job is not a function");
    return fn as Fn;
  }

  function isThenable(value: unknown): value is PromiseLike<unknown> {
    return (
      (typeof value === "object" || typeof value === "function") &&
      value !== null &&
      typeof (value as { then?: unknown }).then === "function"
    );
  }

  function succeed(slot: number, value: unknown): void {
    Atomics.store(slots, slot, k.DONE);
    try {
      const list =
        typeof value === "object" && value !== null
          ? (value as Record<symbol, unknown>)[TRANSFER]
          : undefined;
      if (Array.isArray(list)) {
        port.postMessage([slot, (value as { value: unknown }).value], list as never);
      } else {
        port.postMessage([slot, value]);
      }
    } catch (error) {
      // Typically a DataCloneError: a function, or a class instance with private state.
      const reason = error instanceof Error ? error.message : String(error);
      const failure = new TypeError(
        `toThread(): the job's result cannot be sent back to the main thread (${reason}); return plain data: primitives, arrays, plain objects, Map, Set, Date, typed arrays`,
      );
      port.postMessage([slot, serialize(failure, 0), k.ERR]);
    }
  }

  function fail(slot: number, error: unknown, definition: Definition): void {
    Atomics.store(slots, slot, k.DONE);
    if (definition.kind === k.FN) error = explainMissingName(error, definition);
    try {
      port.postMessage([slot, serialize(error, 0), k.ERR]);
    } catch {
      port.postMessage([slot, serialize(new Error(String(error)), 0), k.ERR]);
    }
  }

  /**
   * A function job that reads a variable from around it (a closure, an import) fails here with
   * "x is not defined": say why, and how to fix it.
   */
  function explainMissingName(error: unknown, definition: Definition): unknown {
    if (!(error instanceof ReferenceError)) return error;
    const m = /^(\S+) is not defined$/.exec(error.message);
    if (m === null) return error;
    const missing = m[1] as string;
    const escaped = missing.replace(/[$]/g, "\\$");
    if (!new RegExp(`(^|[^\\w$])${escaped}($|[^\\w$])`).test(definition.text)) return error;
    const what = definition.name ? `function ${definition.name}` : "the function";
    const rewritten = new ReferenceError(
      `${missing} is not defined: ${what} runs in a worker thread, with no access to the variables around it (closures, imports, module constants). Pass ${missing} as an argument (toThread(fn, ${missing}) with a matching parameter), or put the code in a module and run it as a module job ({ module: new URL("./jobs.ts", import.meta.url), name: "..." })`,
    );
    const stack = error.stack ?? "";
    const frames = stack.indexOf("\n    at ");
    rewritten.stack = `ReferenceError: ${rewritten.message}${frames === -1 ? "" : stack.slice(frames)}`;
    return rewritten;
  }

  /** An error as plain data (a structured clone keeps only some fields and built-in classes). */
  function serialize(error: unknown, depth: number): unknown {
    if (!(error instanceof Error)) {
      try {
        structuredClone(error);
        return error;
      } catch {
        return String(error);
      }
    }
    const fields: Record<string, unknown> = {};
    for (const key of Object.keys(error)) {
      if (key === "cause" || key === "errors" || key === "stack" || key === "message") continue;
      const v = (error as unknown as Record<string, unknown>)[key];
      if (v === null || ["string", "number", "boolean", "bigint", "undefined"].includes(typeof v)) {
        fields[key] = v;
      }
    }
    const out = {
      [k.SERIALIZED]: true,
      name: error.name,
      message: error.message,
      stack: error.stack,
      fields,
    } as unknown as SerializedError;
    if (depth < 4) {
      if (error.cause !== undefined) out.cause = serialize(error.cause, depth + 1);
      if (error instanceof AggregateError) {
        out.errors = error.errors.map((e: unknown) => serialize(e, depth + 1));
      }
    }
    return out;
  }
}
