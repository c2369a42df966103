/**
 * aiots: Python's asyncio for Node.js. Tasks you can really cancel, task groups, timeouts that
 * stop the work, and asyncio's primitives, with asyncio's names and semantics.
 *
 * @module
 */

// Synchronization
export { Barrier, type BarrierState, type BarrierStatistics } from "./barrier.ts";
// Synchronization
export { Condition, type ConditionStatistics } from "./condition.ts";
export type { Clock } from "./core/clock.ts";
// Running
export { getRunningLoop } from "./core/context.ts";
// Tasks and futures
export { type Awaitable, type AwaitedOf, ensureFuture } from "./core/ensure-future.ts";
export { Future, isFuture } from "./core/future.ts";
export { Handle, TimerHandle } from "./core/handle.ts";
export {
  type ExceptionContext,
  type ExceptionHandler,
  Loop,
  type LoopOptions,
} from "./core/loop.ts";
export { Runner, type RunOptions, run } from "./core/runner.ts";
export { allTasks, createTask, currentTask, Task, type TaskOptions } from "./core/task.ts";
// Introspection
export {
  type CallGraphFrame,
  type CallGraphOptions,
  captureCallGraph,
  type FutureCallGraph,
  formatCallGraph,
  printCallGraph,
} from "./debug/call-graph.ts";
export { formatTaskTable, formatTaskTree, readTaskTable, type TaskRow } from "./debug/inspector.ts";

// Errors
export {
  BrokenBarrierError,
  CancelledError,
  ExceptionGroup,
  IncompleteReadError,
  InvalidStateError,
  isCancelled,
  KeyboardInterrupt,
  LimitOverrunError,
  QueueEmpty,
  QueueFull,
  QueueShutDown,
  RuntimeError,
  TimeoutError,
} from "./errors.ts";
// Synchronization
export { Event, type EventStatistics } from "./event.ts";
export {
  GatheringFuture,
  type GatherOptions,
  type GatherResults,
  type GatherSettled,
  gather,
} from "./gather.ts";
// Synchronization
export { Guard, Lock, type LockStatistics } from "./lock.ts";
// Queues
export {
  comparePython,
  LifoQueue,
  PriorityQueue,
  type PriorityQueueOptions,
  Queue,
  type QueueStatistics,
} from "./queue.ts";
// Synchronization
export {
  BoundedSemaphore,
  type BoundedSemaphoreStatistics,
  Semaphore,
  type SemaphoreStatistics,
} from "./semaphore.ts";
export { shield } from "./shield.ts";
export { sleep } from "./sleep.ts";
// Subprocesses: the stdio constants (the rest is in aiots/subprocess)
export { DEVNULL, PIPE, STDOUT } from "./subprocess/constants.ts";
export { TaskGroup, taskGroup } from "./task-group.ts";
export { Timeout, timeout, timeoutAt, waitFor } from "./timeouts.ts";
// Threads
export { toThread, transfer } from "./to-thread.ts";
export {
  ALL_COMPLETED,
  AsCompleted,
  asCompleted,
  FIRST_COMPLETED,
  FIRST_EXCEPTION,
  type ReturnWhen,
  type WaitOptions,
  wait,
} from "./wait.ts";
export {
  type CancelMode,
  type FunctionJob,
  type Job,
  type ModuleJob,
  type ShutdownOptions,
  type ThreadContext,
  type ThreadFunction,
  WorkerCrashedError,
  WorkerPool,
  type WorkerPoolOptions,
  type WorkerPoolStatistics,
} from "./worker-pool.ts";
