/**
 * Argument validation shared by every public function: each bad argument becomes a `TypeError`
 * (wrong type) or `RangeError` (right type, bad value) that names the function, the argument and
 * the value received.
 *
 * @internal
 * @module
 */

/** A short, safe rendering of any value for an error message: `NaN (number)`, `"10" (string)`. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "string":
      return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)} (string)`;
    case "number":
    case "boolean":
    case "bigint":
      return `${String(value)} (${typeof value})`;
    case "function":
      return `function ${(value as { name?: string }).name || "<anonymous>"}`;
    case "symbol":
      return `${String(value)} (symbol)`;
    default: {
      const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
      return ctor ? `an instance of ${ctor}` : "an object";
    }
  }
}

export function typeError(
  where: string,
  name: string,
  expected: string,
  value: unknown,
): TypeError {
  return new TypeError(`${where}: "${name}" must be ${expected}, got ${describe(value)}`);
}

export function rangeError(
  where: string,
  name: string,
  expected: string,
  value: unknown,
): RangeError {
  return new RangeError(`${where}: "${name}" must be ${expected}, got ${describe(value)}`);
}

export function checkFunction(where: string, name: string, value: unknown): void {
  if (typeof value !== "function") throw typeError(where, name, "a function", value);
}

/** A number that is not NaN (Infinity allowed: a delay of Infinity never fires). */
export function checkNumber(where: string, name: string, value: unknown): asserts value is number {
  if (typeof value !== "number") throw typeError(where, name, "a number", value);
  if (Number.isNaN(value)) throw rangeError(where, name, "a number, not NaN", value);
}

/** Like `checkNumber`, but `null` (meaning "no deadline") is also accepted. */
export function checkOptionalNumber(
  where: string,
  name: string,
  value: unknown,
): asserts value is number | null {
  if (value === null) return;
  if (typeof value !== "number") throw typeError(where, name, "a number or null", value);
  if (Number.isNaN(value)) throw rangeError(where, name, "a number or null, not NaN", value);
}

export function checkInteger(
  where: string,
  name: string,
  value: unknown,
  min: number,
): asserts value is number {
  if (typeof value !== "number") throw typeError(where, name, `an integer >= ${min}`, value);
  if (!Number.isInteger(value) || value < min) {
    throw rangeError(where, name, `an integer >= ${min}`, value);
  }
}

export function checkOptions(where: string, value: unknown): void {
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    throw typeError(where, "options", "an object", value);
  }
}
