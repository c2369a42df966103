/**
 * TaskGroup: structured concurrency (asyncio.TaskGroup).
 *
 * Every task started in the group is awaited before `taskGroup` returns. The first child that
 * fails cancels its siblings and the body; all failures are thrown together as an
 * `ExceptionGroup`. Ported from CPython's taskgroups.py (3.13/3.14), keeping its handling of
 * the parent task's cancellation count so that a group neither swallows a cancellation that came
 * from outside nor leaks its own.
 *
 * @module
 */
import { getRunningLoop } from "./core/context.ts";
import { type CallbackFn, Future, REJECTED } from "./core/future.ts";
import type { Loop } from "./core/loop.ts";
import { currentTask, type Task, type TaskOptions } from "./core/task.ts";
import { TaskSet } from "./core/task-set.ts";
import {
  asCancelledError,
  CancelledError,
  ExceptionGroup,
  KeyboardInterrupt,
  RuntimeError,
} from "./errors.ts";
import { checkFunction } from "./validate.ts";

function isBaseError(error: unknown): error is KeyboardInterrupt {
  return error instanceof KeyboardInterrupt;
}

/** @internal The groups being run, for the call graph (a group's tasks are awaited by its parent). */
export const activeGroups: Set<TaskGroup> = new Set();

/**
 * A group of tasks that live and die together; get one from `taskGroup(body)`.
 * Mirrors `asyncio.TaskGroup`.
 */
export class TaskGroup {
  #entered = false;
  #exiting = false;
  #aborting = false;
  #loop: Loop | undefined;
  #parent: Task<unknown> | undefined;
  #parentCancelRequested = false;
  readonly #tasks = new TaskSet();
  #errors: unknown[] = [];
  #baseError: KeyboardInterrupt | undefined;
  #onCompleted: Future<boolean> | undefined;
  readonly #onTaskDone = (task: Task<unknown>): void => this.#taskDone(task);

  /**
   * Start `fn` as a task of this group. Throws `RuntimeError` (and `fn` never runs) if the group
   * has not been entered, is finished, or is shutting down after a failure.
   */
  createTask<T>(fn: () => PromiseLike<T>, options?: TaskOptions): Task<T> {
    checkFunction("tg.createTask()", "fn", fn);
    if (!this.#entered) throw new RuntimeError(`${this.toString()} has not been entered`);
    if (this.#exiting && this.#tasks.size === 0)
      throw new RuntimeError(`${this.toString()} is finished`);
    if (this.#aborting) throw new RuntimeError(`${this.toString()} is shutting down`);
    const task = (this.#loop as Loop).createTask(fn, options);
    // Registered even if the task finished eagerly, so that its failure cancels the parent at
    // its next await rather than inside createTask (gh-128550).
    this.#tasks.add(task as Task<unknown>);
    task._addCallback(this.#onTaskDone as CallbackFn, task);
    return task;
  }

  /**
   * Enter the group in the current task, run `body(this)`, then wait for every task of the
   * group. `taskGroup(body)` is `new TaskGroup().run(body)`; a group can be entered once.
   */
  async run<T>(body: (tg: TaskGroup) => PromiseLike<T> | T): Promise<T> {
    checkFunction("taskGroup()", "body", body);
    if (this.#entered) throw new RuntimeError(`${this.toString()} has already been entered`);
    this.#loop ??= getRunningLoop();
    const parent = currentTask();
    if (parent === undefined)
      throw new RuntimeError(`${this.toString()} cannot determine the parent task`);
    this.#parent = parent;
    this.#entered = true;
    activeGroups.add(this);
    try {
      let result: T;
      try {
        result = await body(this);
      } catch (error) {
        await this.#exit(true, error);
        throw error; // #exit throws whenever the body threw; not reached
      }
      await this.#exit(false, undefined);
      return result;
    } finally {
      activeGroups.delete(this);
    }
  }

  /** @internal The task that runs the group. */
  _parentTask(): Task<unknown> | undefined {
    return this.#parent;
  }

  /** @internal The group's tasks still running. */
  _children(): Task<unknown>[] {
    return this.#tasks.pending();
  }

  toString(): string {
    const state = this.#aborting ? " cancelling" : this.#entered ? " entered" : "";
    return `<TaskGroup${this.#tasks.size > 0 ? ` tasks=${this.#tasks.size}` : ""}${state}>`;
  }

  async #exit(threw: boolean, error: unknown): Promise<void> {
    this.#exiting = true;
    const parent = this.#parent as Task<unknown>;
    if (threw && isBaseError(error) && this.#baseError === undefined) this.#baseError = error;
    let propagateCancellation: unknown =
      threw && error instanceof CancelledError ? error : undefined;
    if (threw && !this.#aborting) {
      // The parent is being cancelled, or the body failed:
      //     taskGroup(async (tg) => {
      //       tg.createTask(...);
      //       await something;   // <- CancelledError, or a throw
      //     })
      this.#abort();
    }
    // A loop, because the wait can be cancelled several times if the parent task is cancelled
    // repeatedly (or once while our own cancellation is already in progress).
    while (this.#tasks.size > 0) {
      this.#onCompleted ??= new Future<boolean>(this.#loop);
      try {
        await this.#onCompleted;
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        if (!this.#aborting) {
          // The parent is cancelled while children still run:
          //     createTask(async () => taskGroup(async (tg) => { tg.createTask(foo) }))
          propagateCancellation = e;
          this.#abort();
        }
      }
      this.#onCompleted = undefined;
    }
    if (this.#baseError !== undefined) throw this.#baseError;
    // If we cancelled the parent ourselves we must uncancel it; if no other request is left,
    // the CancelledError was ours and stops here.
    if (this.#parentCancelRequested && parent.uncancel() === 0) propagateCancellation = undefined;
    if (propagateCancellation !== undefined && this.#errors.length === 0) {
      throw propagateCancellation as CancelledError;
    }
    if (threw && asCancelledError(error) === undefined) this.#errors.push(error);
    if (this.#errors.length > 0) {
      // A cancellation from outside is pending too: uncancel and cancel again, which keeps the
      // count and makes the parent's next await throw CancelledError.
      if (parent.cancelling() > 0) {
        parent.uncancel();
        parent.cancel();
      }
      const errors = this.#errors;
      this.#errors = [];
      throw new ExceptionGroup("unhandled errors in a TaskGroup", errors);
    }
  }

  #abort(): void {
    this.#aborting = true;
    for (const task of this.#tasks) if (!task.done()) task.cancel();
  }

  #taskDone(task: Task<unknown>): void {
    this.#tasks.finished();
    const onCompleted = this.#onCompleted;
    if (onCompleted !== undefined && this.#tasks.size === 0 && !onCompleted.done()) {
      onCompleted._resolve(true);
    }
    if (task._state !== REJECTED) return; // cancelled, or finished normally
    const error = task.exception();
    this.#errors.push(error);
    if (isBaseError(error) && this.#baseError === undefined) this.#baseError = error;
    const parent = this.#parent as Task<unknown>;
    if (parent.done()) {
      (this.#loop as Loop).callExceptionHandler({
        message: `Task ${task.toString()} has errored out but its parent task ${parent.toString()} is already completed`,
        exception: error,
        task,
      });
      return;
    }
    if (!this.#aborting && !this.#parentCancelRequested) {
      // Cancel the parent to interrupt whatever the body is awaiting, and remember that we did,
      // so that the exit can tell our cancellation from one that came from outside:
      //     try {
      //       await taskGroup(async (tg) => {
      //         tg.createTask(crashSoon);
      //         await something;        // <- must be cancelled by the group
      //       });
      //     } catch {}
      //     await somethingElse;        // <- must run after the group is finished
      this.#abort();
      this.#parentCancelRequested = true;
      parent.cancel();
    }
  }
}

/**
 * Run `body` with a new task group and wait for all its tasks. Mirrors
 * `async with asyncio.TaskGroup() as tg`.
 *
 * If a task fails, the others and the body are cancelled, and `taskGroup` throws an
 * `ExceptionGroup` of every failure. If the task running `taskGroup` is cancelled, all the
 * group's tasks are cancelled and awaited before the `CancelledError` propagates.
 *
 * @example
 * const [a, b] = await taskGroup(async (tg) => {
 *   const a = tg.createTask(() => fetchText(urlA));
 *   const b = tg.createTask(() => fetchText(urlB));
 *   return [a, b];
 * }).then(([a, b]) => [a.result(), b.result()]);
 */
export function taskGroup<T>(body: (tg: TaskGroup) => PromiseLike<T> | T): Promise<T> {
  return new TaskGroup().run(body);
}
