import assert from "node:assert/strict";
import { McsError } from "../../lib/errors.ts";
import { mapGoogleError } from "../../lib/gmail/google_error.ts";
import { retryAfterMs } from "../../lib/gmail/http.ts";
import { OPS } from "../../lib/gmail/scopes.ts";
import { googleError } from "../../lib/emulators/gmail/google_errors.ts";
import { scope, setup } from "./_helpers.ts";

const code = (c: string) => (e: unknown) => e instanceof McsError && e.code === c;

Deno.test("401: token invalidated and the call retried once with a fresh token", async () => {
  await using f = await setup();
  await f.client.getProfile();
  f.creds.revokeCurrent();
  const p = await f.client.getProfile();
  assert.equal(p.emailAddress, "ada@example.com");
  assert.equal(f.creds.invalidations, 1);
  assert.equal(f.creds.issued, 2);
});

Deno.test("401 twice: gmail_unauthorized, no loop", async () => {
  await using f = await setup();
  const client = f.makeClient({
    credentials: {
      getToken: () => Promise.resolve("ya29.bogus"),
      invalidate: () => Promise.resolve(),
    },
  });
  await assert.rejects(
    client.getProfile(),
    (e) => code("gmail_unauthorized")(e) && !/ya29/.test((e as Error).message),
  );
  assert.equal(f.emu.requestCount, 2);
});

Deno.test("429 burst: backoff honours Retry-After, then succeeds", async () => {
  await using f = await setup();
  f.emu.faults.rateLimit(2, { retryAfterS: 3 });
  const p = await f.client.getProfile();
  assert.equal(p.emailAddress, "ada@example.com");
  assert.deepEqual(f.sleeps, [3000, 3000]);
});

Deno.test("5xx and rate-limit 403: exponential backoff, capped; exhausted → retryable error", async () => {
  await using f = await setup({ client: { maxRetries: 3, maxBackoffMs: 5000 } });
  f.emu.faults.serverError(2, 503);
  f.emu.faults.rateLimit(1, { status: 403 });
  await f.client.getProfile();
  assert.deepEqual(f.sleeps, [1000, 2000, 4000]);
  f.sleeps.length = 0;
  f.emu.faults.serverError(10, 500);
  await assert.rejects(
    f.client.getProfile(),
    (e) =>
      code("gmail_unavailable")(e) && (e as McsError).retryable &&
      /Internal error encountered/.test((e as Error).message) &&
      /gave up after 3 retries/.test((e as Error).message),
  );
  assert.deepEqual(f.sleeps, [1000, 2000, 4000]);
  f.emu.faults.clear();
  f.emu.faults.rateLimit(10);
  await assert.rejects(f.client.getProfile(), code("gmail_rate_limited"));
});

Deno.test("send is not retried on 5xx (not idempotent) but is on 429", async () => {
  await using f = await setup({ seed: false });
  f.emu.faults.serverError(1, 503);
  await assert.rejects(
    f.client.send({ to: "b@example.org", subject: "s", text: "t" }),
    (e) => {
      const m = (e as Error).message;
      // Not retried, so the message must not claim retries were exhausted.
      // And an agent must not repeat it blindly: it may have been sent.
      return code("gmail_unavailable")(e) && !/retr(y|ies) exhausted|gave up/.test(m) &&
        /not retried automatically/.test(m) && /Sent/.test(m) &&
        (e as { retryable?: boolean }).retryable === false;
    },
  );
  assert.equal(f.emu.mailbox.deliveries.length, 0);
  f.emu.faults.rateLimit(1, { retryAfterS: 1 });
  await f.client.send({ to: "b@example.org", subject: "s", text: "t" });
  assert.equal(f.emu.mailbox.deliveries.length, 1);
});

Deno.test("batch: inner 429s are retried per item; results complete and in order", async () => {
  await using f = await setup();
  await f.client.listLabels();
  f.emu.resetCounters();
  f.emu.faults.rateLimit(5, { retryAfterS: 2, match: /messages\/[0-9a-f]+\?format=metadata/ });
  const page = await f.client.search({ limit: 30 });
  assert.equal(page.items.length, 30);
  assert.equal(new Set(page.items.map((m) => m.id)).size, 30);
  assert.deepEqual(f.sleeps, [2000]); // one retry round for the 5 failed items
  assert.equal(f.emu.requestCount, 3); // list + batch + retry batch of 5
  assert.equal(f.emu.calls.filter((c) => c.batched).length, 35);
  const dates = page.items.map((m) => m.date);
  assert.deepEqual([...dates].sort().reverse(), dates);
});

Deno.test("403 SERVICE_DISABLED → gmail_api_disabled with project and activation link", async () => {
  await using f = await setup();
  f.emu.faults.apiDisabled(true, "987654321");
  await assert.rejects(f.client.search({ limit: 5 }), (e) => {
    assert.ok(e instanceof McsError);
    assert.equal(e.code, "gmail_api_disabled");
    assert.match(
      e.message,
      /Gmail API is not enabled in the Google Cloud project 987654321 behind the Auth0/,
    );
    assert.match(
      e.message,
      /https:\/\/console\.developers\.google\.com\/apis\/api\/gmail\.googleapis\.com\/overview\?project=987654321/,
    );
    assert.equal(e.category, "config");
    return true;
  });
  assert.deepEqual(f.sleeps, []);
});

Deno.test("403 insufficient scope → gmail_insufficient_scope naming the scope per operation", async () => {
  await using f = await setup({ scopes: [scope("gmail.send")] });
  await assert.rejects(f.client.getMessage(f.emu.mailbox.list()[0].id), (e) => {
    assert.ok(e instanceof McsError && e.code === "gmail_insufficient_scope");
    assert.match(
      e.message,
      /to read a message: it needs one of https:\/\/www.googleapis.com\/auth\/gmail.readonly/,
    );
    return true;
  });
  // Sending works with gmail.send alone.
  await f.client.send({ to: "b@example.org", subject: "s", text: "t" });
  f.creds.scopes = [scope("gmail.readonly")];
  await f.creds.invalidate("gmail");
  await assert.rejects(
    f.client.send({ to: "b@example.org", subject: "s", text: "t" }),
    (e) =>
      code("gmail_insufficient_scope")(e) &&
      /send a message.*gmail\.send/.test((e as Error).message),
  );
  await assert.rejects(
    f.client.markRead([f.emu.mailbox.list()[0].id]),
    (e) => code("gmail_insufficient_scope")(e) && /gmail\.modify/.test((e as Error).message),
  );
});

Deno.test("404 → not_found with Google's message; bad ids rejected locally", async () => {
  await using f = await setup();
  await assert.rejects(
    f.client.getMessage("18f0ffffffffffff"),
    (e) => code("not_found")(e) && /Requested entity was not found/.test((e as Error).message),
  );
  await assert.rejects(f.client.getMessage("../../labels"), code("invalid_id"));
});

Deno.test("mapGoogleError: legacy accessNotConfigured body without details; tokens redacted", () => {
  const e = mapGoogleError(403, {
    error: {
      code: 403,
      message:
        "Gmail API has not been used in project 42 before or it is disabled. Enable it by visiting https://console.developers.google.com/apis/api/gmail.googleapis.com/overview?project=42 then retry.",
      errors: [{ reason: "accessNotConfigured", domain: "usageLimits" }],
    },
  }, OPS.read);
  assert.equal(e.code, "gmail_api_disabled");
  assert.match(e.message, /project 42 /);
  const body = googleError.invalidArgument("bad Bearer ya29.secretsecret").body;
  assert.ok(!mapGoogleError(400, body, OPS.read).message.includes("ya29.secret"));
  assert.equal(retryAfterMs("7"), 7000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000);
});
