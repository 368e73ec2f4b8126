/**
 * Assertions for the tests (@std/assert from JSR is unreachable here, so this wraps `node:assert`,
 * which Deno ships, with the std-like signatures the tests use).
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Assert `cond` is truthy. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Deep strict inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, msg);
}

/** `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  nodeAssert.ok(
    actual.includes(expected),
    msg ?? `expected ${JSON.stringify(actual)} to include ${JSON.stringify(expected)}`,
  );
}

/** `actual` matches `re`. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  nodeAssert.match(actual, re, msg);
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = new (...args: any[]) => E;

/** `e` is an instance of `cls` whose message includes `includes` (each when given). */
function checkError<E extends Error>(e: unknown, cls?: ErrorClass<E>, includes?: string): E {
  if (cls && !(e instanceof cls)) {
    throw new Error(`expected ${cls.name}, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  if (includes && !(e as Error).message.includes(includes)) {
    throw new Error(`expected message to include "${includes}", got: ${(e as Error).message}`);
  }
  return e as E;
}

/** `fn` throws an instance of `cls` (returned for further checks). */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  cls?: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new Error("expected function to throw");
}

/** `fn` rejects with an instance of `cls` (returned for further checks). */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  cls?: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, cls, includes);
  }
  throw new Error("expected promise to reject");
}
