/**
 * Gmail's JSON types come from Google's API description (`@googleapis/gmail`, type only):
 * these lines are checked by `deno check` / `deno test`; each `@ts-expect-error` fails the
 * check if the field it names were accepted.
 * @module
 */
import assert from "node:assert/strict";
import type {
  Api,
  GmailMessage,
  GmailParams,
  GmailPart,
  GmailRequest,
} from "../../lib/gmail/types.ts";
import type { gmail_v1 } from "@googleapis/gmail";

Deno.test("Gmail JSON types accept Google's fields and reject others (checked at compile time)", () => {
  const m: GmailMessage = {
    id: "m1",
    threadId: "t1",
    // A field the hand-written type did not know; Google's description has it.
    classificationLabelValues: [],
    payload: { partId: "", headers: [{ name: "Subject", value: "hi" }] },
  };
  // @ts-expect-error Gmail's message resource has no `subject` field.
  const subject = m.subject;
  const part: GmailPart = m.payload!;
  // @ts-expect-error `id` and `threadId` are always present in what the client reads.
  const bad: GmailMessage = { id: "x" };
  const modify = { addLabelIds: ["STARRED"] } satisfies GmailRequest["modify"];
  // @ts-expect-error Gmail's modify request has no `labels` field.
  const badModify = { labels: ["STARRED"] } satisfies GmailRequest["modify"];
  const query = { format: "metadata", metadataHeaders: ["Subject"] } satisfies GmailParams[
    "messagesGet"
  ];
  // @ts-expect-error messages.get has no `fields2` query parameter.
  const badQuery = { format: "full", fields2: "id" } satisfies GmailParams["messagesGet"];
  // @ts-expect-error a narrowed field must exist in Google's type.
  type Bogus = Api<gmail_v1.Schema$Message, "id", { notAField: string }>;
  const bogus: Bogus | undefined = undefined;
  assert.equal(part.headers?.[0].name, "Subject");
  assert.deepEqual([subject, bad.id, modify.addLabelIds, badModify.labels, bogus], [
    undefined,
    "x",
    ["STARRED"],
    ["STARRED"],
    undefined,
  ]);
  assert.deepEqual([query.format, badQuery.fields2], ["metadata", "id"]);
});
