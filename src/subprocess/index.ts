/**
 * aiots/subprocess: child processes with stream pipes (asyncio.subprocess), on
 * `node:child_process`. Beyond asyncio, a task cancelled while it waits for a child stops the
 * child (SIGTERM, then SIGKILL after a grace period) and reaps it, and `run()` never ends with
 * a child of its own still running.
 *
 * @module
 */
export { DEVNULL, PIPE, STDOUT } from "./constants.ts";
export {
  createSubprocessExec,
  createSubprocessShell,
  type Stdio,
  type SubprocessOptions,
} from "./create.ts";
export { Process, type Signal } from "./process.ts";
