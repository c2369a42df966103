/**
 * `aiots/testing`: helpers for testing code that uses aiots.
 *
 * @module
 */
export type { Clock } from "../core/clock.ts";
export { VirtualClock, type VirtualClockOptions } from "./virtual-clock.ts";
export { waitAllTasksBlocked } from "./wait-all-tasks-blocked.ts";
