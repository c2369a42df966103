/**
 * What a loop owns outside aiots: listening servers, open sockets and pipes, child processes.
 *
 * Each registers here while it is alive. When `run()` ends (after the leftover tasks were
 * cancelled and awaited), every resource still registered is shut down: servers stop listening,
 * sockets are aborted, children are killed and reaped. So a run never leaves a listening port,
 * a half-open socket or a child process behind, and Node is not kept alive by them.
 *
 * @internal
 * @module
 */
import type { Loop } from "../core/loop.ts";

/** @internal Something a loop must clean up if it is still alive when the loop closes. */
export interface LoopResource {
  /** Release the resource; resolves once it is gone. Must not throw. */
  _shutdown(): Promise<void> | void;
}

// Servers first (no new connections), then sockets, then children: in registration order
// within each kind.
const ORDER = ["server", "socket", "process"] as const;

/** @internal The kind of a resource, which decides when it is shut down. */
export type ResourceKind = (typeof ORDER)[number];

const byLoop = new WeakMap<Loop, Map<ResourceKind, Set<LoopResource>>>();

/** @internal Register `resource` on `loop` until `untrack`. */
export function track(loop: Loop, kind: ResourceKind, resource: LoopResource): void {
  let kinds = byLoop.get(loop);
  if (kinds === undefined) {
    kinds = new Map(ORDER.map((k) => [k, new Set<LoopResource>()]));
    byLoop.set(loop, kinds);
    const hook = (): Promise<void> => shutdownAll(loop, hook);
    loop._shutdownHooks.add(hook);
  }
  kinds.get(kind)?.add(resource);
}

/** @internal The resource is gone (closed, exited). */
export function untrack(loop: Loop, kind: ResourceKind, resource: LoopResource): void {
  byLoop.get(loop)?.get(kind)?.delete(resource);
}

async function shutdownAll(loop: Loop, hook: () => Promise<void>): Promise<void> {
  loop._shutdownHooks.delete(hook);
  const kinds = byLoop.get(loop);
  byLoop.delete(loop);
  if (kinds === undefined) return;
  for (const kind of ORDER) {
    const resources = [...(kinds.get(kind) ?? [])];
    const results = await Promise.allSettled(resources.map((r) => Promise.resolve(r._shutdown())));
    for (const result of results) {
      if (result.status === "rejected") {
        loop.callExceptionHandler({
          message: `Error while closing a leftover ${kind} at the end of run()`,
          exception: result.reason,
        });
      }
    }
  }
}
