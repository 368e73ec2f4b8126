/**
 * The Gmail emulator's route table: each route names its HTTP method, a pattern on the path
 * after `/gmail/v1/users/{userId}/`, the query parameters it declares (anything else is a 400,
 * like Google) and its handler. {@link dispatch} finds the route and checks the query.
 *
 * @example
 * ```ts
 * import { ROUTES } from "./table.ts";
 * ROUTES.some((r) => r.path.test("messages")); // true
 * ```
 * @module
 */

import { type ApiRequest, type ApiResponse, type Ctx, err, type Handler } from "../api.ts";
import { googleError } from "../google_errors.ts";
import { checkQuery, type QuerySpec } from "../validate.ts";
import { draftRoutes } from "./drafts.ts";
import { labelRoutes } from "./labels.ts";
import { messageRoutes } from "./messages.ts";
import { threadRoutes } from "./threads.ts";

/** One route. */
export interface Route {
  method: string;
  /** Matched against the path after `users/{userId}/`; captures become handler params. */
  path: RegExp;
  /** Declared query parameters (besides Google's standard ones). */
  query?: QuerySpec;
  handle: Handler;
}

/** Every `/gmail/v1/users/{userId}/…` route. */
export const ROUTES: readonly Route[] = [
  ...messageRoutes,
  ...threadRoutes,
  ...labelRoutes,
  ...draftRoutes,
];

/** Run the route for `rest` (the path after `users/{userId}/`), or answer 404. */
export function dispatch(ctx: Ctx, req: ApiRequest, rest: string, routes = ROUTES): ApiResponse {
  for (const r of routes) {
    if (r.method !== req.method) continue;
    const m = r.path.exec(rest);
    if (!m) continue;
    const bad = checkQuery(r.query ?? {}, req.query);
    if (bad) return err(bad);
    return r.handle(ctx, req, m.slice(1).map(decodeURIComponent));
  }
  return err(googleError.notFound());
}
