/**
 * Request-body validation as the real broker's FastAPI + pydantic v2 models do it (reference
 * section 2.2, shape 3): lax-mode coercion (`"30"` and `30.0` are valid ints, `"true"` a valid
 * bool, numbers are NOT strings), every issue collected, and each issue carrying pydantic's
 * `type`, `loc`, `msg`, `input` (and `ctx` where pydantic adds one).
 *
 * @example
 * ```ts
 * import { check, str } from "./validate.ts";
 * const r = check({ public_key: 1 }, { public_key: str({ required: true }) });
 * // r.issues[0] → { type: "string_type", loc: ["body", "public_key"], msg: "Input should be a valid string", input: 1 }
 * ```
 * @module
 */

/** One pydantic error, as FastAPI serialises it inside `{"detail": [...]}`. */
export interface Issue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

type Loc = (string | number)[];
type Coerce = (value: unknown, loc: Loc, issues: Issue[]) => unknown;

/** A field rule: how to coerce a present value; `required` or the default when absent. */
export interface Rule {
  coerce: Coerce;
  required?: boolean;
  /** `X | None`: JSON `null` is accepted as is. */
  nullable?: boolean;
  default?: unknown;
}

const issue = (
  type: string,
  loc: Loc,
  msg: string,
  input: unknown,
  ctx?: Record<string, unknown>,
) => ctx ? { type, loc, msg, input, ctx } : { type, loc, msg, input };

const strCoerce: Coerce = (v, loc, issues) => {
  if (typeof v === "string") return v;
  issues.push(issue("string_type", loc, "Input should be a valid string", v));
  return undefined;
};

const intCoerce = (bounds: { ge?: number; le?: number }): Coerce => (v, loc, issues) => {
  let n: number | undefined;
  if (typeof v === "boolean") n = v ? 1 : 0;
  else if (typeof v === "number") {
    if (!Number.isInteger(v)) {
      issues.push(
        issue(
          "int_from_float",
          loc,
          "Input should be a valid integer, got a number with a fractional part",
          v,
        ),
      );
      return undefined;
    }
    n = v;
  } else if (typeof v === "string") {
    if (!/^\s*[+-]?\d+\s*$/.test(v)) {
      issues.push(
        issue(
          "int_parsing",
          loc,
          "Input should be a valid integer, unable to parse string as an integer",
          v,
        ),
      );
      return undefined;
    }
    n = Number(v.trim());
  } else {
    issues.push(issue("int_type", loc, "Input should be a valid integer", v));
    return undefined;
  }
  if (bounds.ge !== undefined && n < bounds.ge) {
    issues.push(
      issue("greater_than_equal", loc, `Input should be greater than or equal to ${bounds.ge}`, v, {
        ge: bounds.ge,
      }),
    );
    return undefined;
  }
  if (bounds.le !== undefined && n > bounds.le) {
    issues.push(
      issue("less_than_equal", loc, `Input should be less than or equal to ${bounds.le}`, v, {
        le: bounds.le,
      }),
    );
    return undefined;
  }
  return n;
};

const TRUE = new Set(["1", "on", "t", "true", "y", "yes"]);
const FALSE = new Set(["0", "off", "f", "false", "n", "no"]);
const boolCoerce: Coerce = (v, loc, issues) => {
  if (typeof v === "boolean") return v;
  if (v === 0 || v === 1) return v === 1;
  if (typeof v === "string") {
    const s = v.toLowerCase();
    if (TRUE.has(s)) return true;
    if (FALSE.has(s)) return false;
    issues.push(
      issue("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", v),
    );
    return undefined;
  }
  issues.push(issue("bool_type", loc, "Input should be a valid boolean", v));
  return undefined;
};

const listOf = (item: Coerce): Coerce => (v, loc, issues) => {
  if (!Array.isArray(v)) {
    issues.push(issue("list_type", loc, "Input should be a valid list", v));
    return undefined;
  }
  return v.map((x, i) => item(x, [...loc, i], issues));
};

const dictOfStr: Coerce = (v, loc, issues) => {
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    issues.push(issue("dict_type", loc, "Input should be a valid dictionary", v));
    return undefined;
  }
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, strCoerce(x, [...loc, k], issues)]),
  );
};

/** Coerce into a model: `{ ...rules }` over an object; pydantic's `model_attributes_type` else. */
export function model(rules: Record<string, Rule>): Coerce {
  return (v, loc, issues) => {
    if (!v || typeof v !== "object" || Array.isArray(v)) {
      issues.push(
        issue(
          "model_attributes_type",
          loc,
          "Input should be a valid dictionary or object to extract fields from",
          v ?? null,
        ),
      );
      return undefined;
    }
    const obj = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [name, rule] of Object.entries(rules)) {
      const at = [...loc, name];
      if (!(name in obj)) {
        if (rule.required) issues.push(issue("missing", at, "Field required", obj));
        else out[name] = rule.default ?? null;
      } else if (obj[name] === null && rule.nullable) out[name] = null;
      else out[name] = rule.coerce(obj[name], at, issues);
    }
    return out;
  };
}

/** `str` (required) or `str | None = None`. */
export const str = (o: { required?: boolean; default?: string } = {}): Rule => ({
  coerce: strCoerce,
  required: o.required,
  nullable: !o.required && o.default === undefined,
  default: o.default,
});
/** `str = Field(pattern=…)`. */
export const pattern = (re: RegExp, o: { required?: boolean } = {}): Rule => ({
  required: o.required,
  coerce: (v, loc, issues) => {
    const s = strCoerce(v, loc, issues);
    if (typeof s !== "string" || re.test(s)) return s;
    issues.push(
      issue("string_pattern_mismatch", loc, `String should match pattern '${re.source}'`, v, {
        pattern: re.source,
      }),
    );
    return undefined;
  },
});
/** `int | None` or `int = Field(default, ge, le)`. */
export const int = (o: { default?: number; ge?: number; le?: number } = {}): Rule => ({
  coerce: intCoerce(o),
  nullable: o.default === undefined,
  default: o.default,
});
/** `bool = default`. */
export const bool = (d: boolean): Rule => ({ coerce: boolCoerce, default: d });
/** `list[str] | None`. */
export const strList = (): Rule => ({ coerce: listOf(strCoerce), nullable: true });
/** `dict[str, str] | None`. */
export const strDict = (): Rule => ({ coerce: dictOfStr, nullable: true });
/** `list[Model] | None`. */
export const modelList = (rules: Record<string, Rule>): Rule => ({
  coerce: listOf(model(rules)),
  nullable: true,
});

/** Validate a decoded JSON body against the top-level model (loc starts at `"body"`). */
export function check<T = Record<string, unknown>>(
  body: unknown,
  rules: Record<string, Rule>,
): { value: T; issues: [] } | { value?: undefined; issues: Issue[] } {
  const issues: Issue[] = [];
  const value = model(rules)(body, ["body"], issues);
  return issues.length ? { issues } : { value: value as T, issues: [] };
}
