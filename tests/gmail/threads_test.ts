import { assert, assertEquals } from "../support/assert.ts";
import { McsError } from "../../lib/errors.ts";
import { scope, setup } from "./_helpers.ts";

Deno.test("listThreads: one list call + one batch call, summaries with counts, paging", async () => {
  await using f = await setup();
  await f.client.listLabels(); // warm the label cache so only the thread calls are counted
  f.emu.resetCounters();
  const page = await f.client.listThreads({ limit: 5 });
  assertEquals(page.items.length, 5);
  assertEquals(f.emu.requestCount, 2); // threads.list + one batch (never N requests)
  assertEquals(f.emu.calls.filter((c) => c.batched).length, 5);
  const multi = (await f.client.listThreads({ limit: 100 })).items.find((t) => t.messageCount > 1);
  assert(multi, "the seed has a thread with replies");
  const full = await f.client.getThread(multi.id);
  assertEquals(multi.messageCount, full.messages.length);
  assertEquals(multi.lastMessageId, full.messages.at(-1)!.id);
  assertEquals(multi.subject, full.messages[0].subject);
  assert(multi.participants.length >= 1 && multi.snippet.length > 0);
  assert(page.nextPageToken);
  const next = await f.client.listThreads({ limit: 5, pageToken: page.nextPageToken });
  assert(!next.items.some((t) => page.items.some((p) => p.id === t.id)));
});

Deno.test("listThreads: query and labels narrow; pool strategy stays bounded", async () => {
  await using f = await setup({ client: { metadataStrategy: "pool", concurrency: 2 } });
  const receipts = await f.client.listThreads({ labels: ["Receipts"], limit: 20 });
  assert(receipts.items.length > 0);
  assert(receipts.items.every((t) => t.labels.includes("Receipts")));
  const none = await f.client.listThreads({ query: "zzzznomatchzzzz" });
  assertEquals(none.items, []);
  assertEquals(none.resultSizeEstimate, 0);
});

Deno.test("batch: a 401 inside the parts refreshes the token once and retries those parts", async () => {
  await using f = await setup();
  let revoked = false;
  const client = f.makeClient({
    fetch: (input, init) => {
      // Expire the token between the list call and the batch call.
      if (String(input).endsWith("/batch/gmail/v1") && !revoked) {
        revoked = true;
        f.creds.revokeCurrent();
      }
      return fetch(input, init);
    },
  });
  const page = await client.search({ limit: 3 });
  assertEquals(page.items.length, 3);
  assertEquals(f.creds.invalidations, 1);
  const batched = f.emu.calls.filter((c) => c.batched).map((c) => c.status);
  assertEquals(batched, [401, 401, 401, 200, 200, 200]);
});

Deno.test("a gmail.metadata-only token searching with a query gets gmail_insufficient_scope", async () => {
  await using f = await setup({ scopes: [scope("gmail.metadata")] });
  let err: unknown;
  try {
    await f.client.listThreads({ query: "is:unread" });
  } catch (e) {
    err = e;
  }
  assert(err instanceof McsError && err.code === "gmail_insufficient_scope", String(err));
  assert(/gmail\.readonly/.test(err.message));
});
