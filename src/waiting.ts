/**
 * How a primitive finds its loop (asyncio's `mixins._LoopBoundMixin`): it takes no loop argument
 * and binds to the running loop the first time it has to wait; using it from another loop then
 * throws `RuntimeError`. Fast paths that never wait never bind.
 *
 * @internal
 * @module
 */
import { getRunningLoop } from "./core/context.ts";
import type { Loop } from "./core/loop.ts";
import { RuntimeError } from "./errors.ts";

/**
 * The running loop, checked against the loop `bound` (undefined: not bound yet) of `owner`.
 * Store the result as the new binding.
 *
 * @throws {RuntimeError} outside `run()`, or if `owner` is bound to another loop.
 * @internal
 */
export function bindLoop(bound: Loop | undefined, owner: object): Loop {
  const loop = getRunningLoop();
  if (bound !== undefined && bound !== loop) {
    throw new RuntimeError(`${String(owner)} is bound to a different event loop`);
  }
  return loop;
}
