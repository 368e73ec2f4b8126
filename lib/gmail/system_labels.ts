/**
 * Gmail's system labels, for the client's name ↔ id resolution. Their names equal their ids.
 * (The Gmail emulator keeps its own copy of the list: it never imports client code.)
 *
 * @example
 * ```ts
 * import { isSystemLabel, SYSTEM_LABELS } from "./system_labels.ts";
 * isSystemLabel("INBOX"); // true
 * SYSTEM_LABELS.length; // 14
 * ```
 * @module
 */

/** Gmail's system label ids (their names equal their ids). */
export const SYSTEM_LABELS = [
  "INBOX",
  "SENT",
  "DRAFT",
  "SPAM",
  "TRASH",
  "UNREAD",
  "STARRED",
  "IMPORTANT",
  "CHAT",
  "CATEGORY_PERSONAL",
  "CATEGORY_SOCIAL",
  "CATEGORY_PROMOTIONS",
  "CATEGORY_UPDATES",
  "CATEGORY_FORUMS",
] as const;

/** A system label id. */
export type SystemLabel = typeof SYSTEM_LABELS[number];

/** Whether `id` is a system label id (exact, case-sensitive like the API). */
export function isSystemLabel(id: string): id is SystemLabel {
  return (SYSTEM_LABELS as readonly string[]).includes(id);
}
