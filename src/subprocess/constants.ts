/**
 * The special values of the `stdin`/`stdout`/`stderr` options of `createSubprocessExec` and
 * `createSubprocessShell` (asyncio.subprocess.PIPE, STDOUT, DEVNULL). Kept apart from the rest
 * of `aiots/subprocess` so that `aiots` can export them without loading `node:child_process`.
 *
 * @module
 */

/** Connect the stream to the parent with a pipe: `proc.stdin`/`proc.stdout`/`proc.stderr`. */
export const PIPE = "pipe";

/** For `stderr` only: send the child's error output where its standard output goes. */
export const STDOUT = "stdout";

/** Connect the stream to the null device (`/dev/null`). */
export const DEVNULL = "devnull";
