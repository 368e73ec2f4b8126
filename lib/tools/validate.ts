/**
 * Validate and coerce a tool's arguments against its JSON Schema, strictly: `"false"` is false,
 * `"20"` is 20, `"a, b"` is `["a", "b"]` for list parameters, and anything else that does not fit
 * is a {@link UsageError} (`invalid_arguments`, exit 2) that names the parameter and what was
 * expected. Defaults from the schema are filled in.
 *
 * Sizes are checked here too: a string over its `maxLength` or a list over its `maxItems` is
 * `invalid_arguments` naming the parameter, its size and the limit (the catalogue gives every
 * string and list a limit), so an absurd argument never reaches the network.
 *
 * An integer above its schema `maximum` (e.g. `limit: 500`) is not an error: it is capped, and
 * {@link noticesOf} returns a sentence saying so, which the tool puts in its result's `notice`
 * (the original SDK accepted any limit; agents written for it must keep working).
 *
 * Why not a JSON Schema library such as `@cfworker/json-schema`: it would still need this
 * coercion and capping layer, and it measured about 24 ms more to import plus 5 ms to compile and
 * run the first validation on every `mcs exec` (README, "Dependencies and why").
 *
 * @example
 * ```ts
 * import { validateArgs } from "./validate.ts";
 * import { toolByName } from "./catalog.ts";
 * validateArgs(toolByName("set_flags")!, { uid: "1", flags: "\\Seen", remove: "false" });
 * // { uid: "1", flags: "\\Seen", remove: false, folder: "INBOX" }
 * const args = validateArgs(toolByName("search_emails")!, { limit: 500 });
 * args.limit; // 100
 * noticesOf(args); // ["limit 500 is above the maximum of 100; capped at 100."]
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import type { JsonSchema, ToolSpec } from "./catalog.ts";
import { didYouMean } from "./suggest.ts";

/** Coerced arguments. */
export type ToolArgs = Record<string, unknown>;

/** Notices about coerced values (capped limits), per validated arguments object. */
const NOTICES = new WeakMap<ToolArgs, string[]>();

/** Sentences about arguments that were adjusted rather than rejected (empty when none). */
export function noticesOf(args: ToolArgs): string[] {
  return NOTICES.get(args) ?? [];
}

function fail(tool: string, message: string): never {
  throw new UsageError("invalid_arguments", `${tool}: ${message}`, { details: { tool } });
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "string") return v.length > 40 ? "a long string" : `"${v}"`;
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}

function coerce(
  tool: string,
  name: string,
  schema: JsonSchema,
  v: unknown,
  notices: string[] = [],
): unknown {
  switch (schema.type) {
    case "string": {
      const text = typeof v === "string"
        ? v
        : typeof v === "number" && Number.isFinite(v)
        ? String(v)
        : fail(tool, `parameter "${name}" must be a string, got ${describe(v)}.`);
      if (schema.maxLength !== undefined && text.length > schema.maxLength) {
        return fail(
          tool,
          `parameter "${name}" is too long: ${text.length} characters, at most ${schema.maxLength}.`,
        );
      }
      return text;
    }
    case "integer": {
      const n = typeof v === "number"
        ? v
        : typeof v === "string" && /^\s*-?\d+\s*$/.test(v)
        ? Number(v)
        : NaN;
      if (!Number.isInteger(n)) {
        return fail(tool, `parameter "${name}" must be an integer, got ${describe(v)}.`);
      }
      if (schema.minimum !== undefined && n < schema.minimum) {
        return fail(tool, `parameter "${name}" must be at least ${schema.minimum}, got ${n}.`);
      }
      if (schema.maximum !== undefined && n > schema.maximum) {
        notices.push(
          `${name} ${n} is above the maximum of ${schema.maximum}; capped at ${schema.maximum}.`,
        );
        return schema.maximum;
      }
      return n;
    }
    case "boolean": {
      if (typeof v === "boolean") return v;
      const s = typeof v === "string" ? v.trim().toLowerCase() : typeof v === "number" ? v : "";
      if (s === "true" || s === "1" || s === 1 || s === "yes") return true;
      if (s === "false" || s === "0" || s === 0 || s === "no" || s === "") return false;
      return fail(tool, `parameter "${name}" must be true or false, got ${describe(v)}.`);
    }
    case "array": {
      const items = Array.isArray(v)
        ? v
        : typeof v === "string"
        ? v.split(",").map((x) => x.trim()).filter((x) => x !== "")
        : fail(tool, `parameter "${name}" must be a list of strings, got ${describe(v)}.`);
      if (schema.maxItems !== undefined && items.length > schema.maxItems) {
        return fail(
          tool,
          `parameter "${name}" has ${items.length} items, at most ${schema.maxItems}.`,
        );
      }
      return items.map((item, i) =>
        coerce(tool, `${name}[${i}]`, schema.items ?? {}, item, notices)
      );
    }
    default:
      return v;
  }
}

/**
 * Check `raw` (parsed JSON) against the tool's parameters and return coerced arguments with
 * defaults applied; values above a `maximum` are capped (see {@link noticesOf}).
 * @throws {UsageError} `invalid_arguments` naming the first problem.
 */
export function validateArgs(tool: ToolSpec, raw: unknown): ToolArgs {
  const params = tool.parameters;
  if (raw === undefined || raw === null) raw = {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    fail(tool.name, `arguments must be a JSON object, got ${describe(raw)}.`);
  }
  const input = raw as Record<string, unknown>;
  const out: ToolArgs = {};
  const notices: string[] = [];
  for (const key of Object.keys(input)) {
    if (!(key in params.properties)) {
      const known = Object.keys(params.properties);
      fail(
        tool.name,
        `unknown parameter "${key}".${didYouMean(key, known)} Parameters: ${
          known.length ? known.join(", ") : "(none)"
        }.`,
      );
    }
  }
  for (const [key, schema] of Object.entries(params.properties)) {
    const v = input[key];
    if (v === undefined || v === null) {
      if (params.required.includes(key)) {
        fail(tool.name, `missing required parameter "${key}" (${schema.description ?? ""}).`);
      }
      if (schema.default !== undefined) out[key] = schema.default;
      continue;
    }
    const c = coerce(tool.name, key, schema, v, notices);
    if (params.required.includes(key) && (c === "" || (Array.isArray(c) && c.length === 0))) {
      fail(tool.name, `parameter "${key}" must not be empty.`);
    }
    out[key] = c;
  }
  if (notices.length) NOTICES.set(out, notices);
  return out;
}
