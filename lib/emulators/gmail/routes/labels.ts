/**
 * `users.labels.*` handlers (list, create, get).
 *
 * @example
 * ```ts
 * import { labelRoutes } from "./labels.ts";
 * labelRoutes.length; // 3
 * ```
 * @module
 */

import { err, ok, readJson } from "../api.ts";
import { googleError } from "../google_errors.ts";
import { labelResource } from "../resources.ts";
import { LABEL } from "../validate.ts";
import type { Route } from "./table.ts";

/** The routes of `users.labels`. */
export const labelRoutes: Route[] = [
  {
    method: "GET",
    path: /^labels$/,
    handle: ({ mailbox }) =>
      ok({ labels: [...mailbox.labels.keys()].map((id) => labelResource(mailbox, id, false)) }),
  },
  {
    method: "POST",
    path: /^labels$/,
    handle: (ctx, req) => {
      const j = readJson(ctx, req, LABEL);
      if ("error" in j) return err(j.error);
      const name = String(j.value.name ?? "").trim();
      if (!name) return err(googleError.invalidArgument("Invalid label name"));
      if (ctx.mailbox.findLabel(name)) {
        return err(googleError.conflict("Label name exists or conflicts"));
      }
      const id = ctx.mailbox.addLabel(name);
      const l = ctx.mailbox.labels.get(id)!;
      for (const k of ["messageListVisibility", "labelListVisibility", "color"] as const) {
        if (j.value[k] !== undefined) Object.assign(l, { [k]: j.value[k] });
      }
      return ok(labelResource(ctx.mailbox, id, false));
    },
  },
  {
    method: "GET",
    path: /^labels\/([^/]+)$/,
    handle: ({ mailbox }, _req, p) =>
      mailbox.labels.has(p[0])
        ? ok(labelResource(mailbox, p[0], true))
        : err(googleError.notFound()),
  },
];
