/**
 * Which Google OAuth scopes authorise which Gmail operation, used to name the missing scope
 * when Gmail answers 403 insufficient scope.
 *
 * @example
 * ```ts
 * import { OPS } from "./scopes.ts";
 * OPS.send.scopes; // ["gmail.send", "gmail.compose", "gmail.modify", "https://mail.google.com/"]
 * ```
 * @module
 */

import type { OperationInfo } from "./google_error.ts";

const FULL = "https://mail.google.com/";
const READ = ["gmail.readonly", "gmail.modify", FULL] as const;
const SEND = ["gmail.send", "gmail.compose", "gmail.modify", FULL] as const;
const MODIFY = ["gmail.modify", FULL] as const;
const COMPOSE = ["gmail.compose", "gmail.modify", FULL] as const;
const LABELS = ["gmail.labels", "gmail.modify", FULL] as const;

/** Operation descriptions and the scopes any one of which allows them. */
export const OPS = {
  search: { description: "search messages", scopes: READ },
  read: { description: "read a message", scopes: READ },
  readThread: { description: "read a thread", scopes: READ },
  listThreads: { description: "list threads", scopes: READ },
  profile: { description: "read the mailbox profile", scopes: [...READ, "gmail.compose"] },
  listLabels: { description: "list labels", scopes: [...READ, "gmail.labels"] },
  createLabel: { description: "create a label", scopes: LABELS },
  send: { description: "send a message", scopes: SEND },
  draft: { description: "manage drafts", scopes: COMPOSE },
  sendDraft: { description: "send a draft", scopes: COMPOSE },
  modify: { description: "change message labels", scopes: MODIFY },
  trash: { description: "move messages to the trash", scopes: MODIFY },
  attachment: { description: "download an attachment", scopes: READ },
} satisfies Record<string, OperationInfo>;
