/**
 * Request checks as strict as Google's front end: every query parameter must be a standard one
 * or one the method declares (Gmail discovery document), enums and booleans must be valid, and
 * a JSON body may hold only the fields of its resource (nested ones too). Google answers each
 * with 400 INVALID_ARGUMENT and texts like
 * `Invalid JSON payload received. Unknown name "foo": Cannot find field.`
 *
 * The texts follow Google's API front end as seen in public reports; the exact wording of the
 * enum and type errors, the `errors[].reason` and the `BadRequest` detail are not in the
 * reference (see GUESSES.md).
 *
 * @example
 * ```ts
 * import { checkQuery } from "./validate.ts";
 * checkQuery({ format: { enum: ["full"] } }, new URLSearchParams("format=xyz")); // an error
 * ```
 * @module
 */

import { type ErrorResponse, googleError } from "./google_errors.ts";

/** One declared query parameter. */
export interface ParamSpec {
  enum?: readonly string[];
  type?: "bool" | "uint32" | "string";
  repeated?: boolean;
}

/** A method's query parameters by name. */
export type QuerySpec = Record<string, ParamSpec>;

/** Google's standard parameters, accepted on every method. */
const STANDARD = new Set([
  "$.xgafv",
  "access_token",
  "alt",
  "callback",
  "fields",
  "key",
  "oauth_token",
  "prettyPrint",
  "quotaUser",
  "upload_protocol",
  "uploadType",
  "userIp",
]);

/** camelCase → the proto field name Google puts in `Invalid value at '…'`. */
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());

/** Check a query against a method's declared parameters; `undefined` when it is fine. */
export function checkQuery(spec: QuerySpec, q: URLSearchParams): ErrorResponse | undefined {
  for (const [name, value] of q) {
    if (STANDARD.has(name)) continue;
    const p = spec[name];
    if (!p) {
      return googleError.badRequestField(
        `Invalid JSON payload received. Unknown name "${name}": Cannot bind query parameter. Field '${name}' could not be found in request message.`,
      );
    }
    if (p.enum && !p.enum.includes(value.toLowerCase())) {
      return googleError.badRequestField(
        `Invalid value at '${snake(name)}' (TYPE_ENUM), "${value}"`,
        snake(name),
      );
    }
    if (p.type === "bool" && !/^(true|false)$/i.test(value)) {
      return googleError.badRequestField(
        `Invalid value at '${snake(name)}' (TYPE_BOOL), "${value}"`,
        snake(name),
      );
    }
    if (p.type === "uint32" && !/^\d+$/.test(value)) {
      return googleError.badRequestField(
        `Invalid value at '${snake(name)}' (TYPE_UINT32), "${value}"`,
        snake(name),
      );
    }
  }
  const prettyPrint = q.get("prettyPrint");
  if (prettyPrint !== null && !/^(true|false)$/i.test(prettyPrint)) {
    return googleError.badRequestField(
      `Invalid value at 'pretty_print' (TYPE_BOOL), "${prettyPrint}"`,
      "pretty_print",
    );
  }
  return undefined;
}

/** A JSON field's shape: a scalar kind, a list of strings, or a nested message. */
export type FieldSpec = "string" | "number" | "strings" | "any" | { [field: string]: FieldSpec };

/** Gmail's `Message` resource fields. */
export const MESSAGE: Record<string, FieldSpec> = {
  id: "string",
  threadId: "string",
  labelIds: "strings",
  snippet: "string",
  historyId: "string",
  internalDate: "string",
  payload: "any",
  sizeEstimate: "number",
  raw: "string",
  classificationLabelValues: "any",
};

/** Gmail's `Draft` resource fields. */
export const DRAFT: Record<string, FieldSpec> = { id: "string", message: MESSAGE };

/** Gmail's `Label` resource fields. */
export const LABEL: Record<string, FieldSpec> = {
  id: "string",
  name: "string",
  messageListVisibility: "string",
  labelListVisibility: "string",
  type: "string",
  messagesTotal: "number",
  messagesUnread: "number",
  threadsTotal: "number",
  threadsUnread: "number",
  color: { textColor: "string", backgroundColor: "string" },
};

/** `ModifyMessageRequest` / `ModifyThreadRequest`. */
export const MODIFY: Record<string, FieldSpec> = {
  addLabelIds: "strings",
  removeLabelIds: "strings",
};
/** `BatchModifyMessagesRequest`. */
export const BATCH_MODIFY: Record<string, FieldSpec> = { ids: "strings", ...MODIFY };
/** `BatchDeleteMessagesRequest`. */
export const BATCH_DELETE: Record<string, FieldSpec> = { ids: "strings" };

function typeError(path: string, kind: string, value: unknown): ErrorResponse {
  return googleError.badRequestField(
    `Invalid value at '${path}' (${kind}), ${JSON.stringify(value)}`,
    path,
  );
}

/** Check a JSON object against a resource's fields (recursively); `undefined` when fine. */
export function checkBody(
  spec: Record<string, FieldSpec>,
  value: unknown,
  at = "",
): ErrorResponse | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return googleError.badRequestField(
      `Invalid JSON payload received. Expected an object${at ? ` at '${at}'` : ""}.`,
    );
  }
  for (const [k, v] of Object.entries(value)) {
    const f = spec[k];
    const path = at ? `${at}.${k}` : k;
    if (!f) {
      return googleError.badRequestField(
        `Invalid JSON payload received. Unknown name "${k}"${
          at ? ` at '${at}'` : ""
        }: Cannot find field.`,
        at || undefined,
      );
    }
    if (v === null || f === "any") continue;
    if (f === "string" && typeof v !== "string" && typeof v !== "number") {
      return typeError(path, "TYPE_STRING", v);
    }
    if (f === "number" && typeof v !== "number" && !/^-?\d+$/.test(String(v))) {
      return typeError(path, "TYPE_INT32", v);
    }
    if (f === "strings") {
      if (!Array.isArray(v)) return typeError(path, "TYPE_STRING", v);
      const bad = v.find((x) => typeof x !== "string");
      if (bad !== undefined) return typeError(path, "TYPE_STRING", bad);
    }
    if (typeof f === "object") {
      const e = checkBody(f, v, path);
      if (e) return e;
    }
  }
  return undefined;
}
