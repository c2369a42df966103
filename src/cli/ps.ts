/**
 * `aiots ps PID` and `aiots pstree PID`: the task table and the await tree of another running
 * aiots process (asyncio's `python -m asyncio ps/pstree`). The process must have opted in
 * (`run(main, { inspect: true })` or `AIOTS_INSPECT=1`) and belong to the same OS user.
 *
 * @module
 */
import { formatTaskTable, formatTaskTree, readTaskTable } from "../index.ts";

export const PS_HELP = `usage:
  aiots ps PID       the tasks of a running aiots process: id, name, function, state, what each
                     awaits, and which tasks await it
  aiots pstree PID   the same as a tree: each task under the task that awaits it

The process must run with AIOTS_INSPECT=1 (or run(main, { inspect: true })) and belong to you.
exit codes: 0 shown, 1 the process could not be read (or its await graph has cycles), 2 usage`;

/** Run `aiots ps|pstree` with its arguments; resolves with the exit code. */
export async function psCommand(which: "ps" | "pstree", args: readonly string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${PS_HELP}\n`);
    return 0;
  }
  const [pidText, ...rest] = args;
  const pid = Number(pidText);
  if (pidText === undefined || rest.length > 0 || !Number.isInteger(pid) || pid <= 0) {
    process.stderr.write(
      `aiots: "aiots ${which}" takes one process id, got ${JSON.stringify(args)}\n${PS_HELP}\n`,
    );
    return 2;
  }
  let tasks: Awaited<ReturnType<typeof readTaskTable>>["tasks"];
  try {
    ({ tasks } = await readTaskTable(pid));
  } catch (error) {
    process.stderr.write(
      `aiots ${which}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    return 1;
  }
  if (which === "ps") {
    process.stdout.write(formatTaskTable(tasks));
    return 0;
  }
  const { text, cycles } = formatTaskTree(tasks);
  process.stdout.write(text);
  return cycles.length > 0 ? 1 : 0;
}
