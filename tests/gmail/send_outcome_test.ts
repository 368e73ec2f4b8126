/**
 * Sends whose outcome is unknown (the request went out, no answer came back) and sends refused
 * for size before a byte goes out.
 * @module
 */
import assert from "node:assert/strict";
import PostalMime from "postal-mime";
import { McsError, UsageError } from "../../lib/errors.ts";
import { GmailClient } from "../../lib/gmail/mod.ts";
import { MAX_MESSAGE_BYTES } from "../../lib/gmail/send.ts";
import { createNet } from "../../lib/net/http.ts";
import type { FetchLike } from "../../lib/net/types.ts";

const credentials = {
  getToken: () => Promise.resolve("test-token"),
  invalidate: () => Promise.resolve(),
};

/**
 * A server that reads each request to the end and then never answers `hang` paths (until the
 * client gives up); other paths get `answer`. Records the request bodies.
 */
function hangingServer(
  hang: (path: string) => boolean,
  answer: (path: string) => unknown = () => ({}),
) {
  const bodies: { path: string; body: Uint8Array }[] = [];
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    bodies.push({ path, body: new Uint8Array(await req.arrayBuffer()) });
    if (hang(path)) {
      await released;
      return new Response(null, { status: 500 });
    }
    return Response.json(answer(path));
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    bodies,
    [Symbol.asyncDispose]: () => {
      release();
      return server.shutdown();
    },
  };
}

function clientFor(url: string, fetch: FetchLike) {
  return new GmailClient({ credentials, apiBase: url, fetch, sleep: () => Promise.resolve() });
}

Deno.test("a send that times out after the request was written is outcome_unknown with the Message-ID to look up", async () => {
  await using srv = hangingServer((p) => p.endsWith("/messages/send"));
  using net = createNet({ env: {}, timeoutMs: 300 });
  const client = clientFor(srv.url, net);
  const err = await client.send({ to: "bob@example.org", subject: "hi", text: "x" }).then(
    () => assert.fail("expected an error"),
    (e) => e,
  );
  assert.ok(err instanceof McsError, String(err));
  assert.equal(err.code, "outcome_unknown");
  assert.equal(err.retryable, false);
  assert.equal(err.category, "runtime");
  // The Message-ID in the details is the one that was sent.
  const sent = srv.bodies.find((b) => b.path.endsWith("/messages/send"))!;
  const raw = Uint8Array.from(
    atob(JSON.parse(new TextDecoder().decode(sent.body)).raw.replace(/-/g, "+").replace(/_/g, "/")),
    (c) => c.charCodeAt(0),
  );
  const email = await PostalMime.parse(raw);
  assert.match(email.messageId ?? "", /^<[^<>@\s]+@[^<>\s]+>$/);
  assert.equal(err.details?.message_id, email.messageId);
  assert.equal(err.details?.query, `in:sent rfc822msgid:${email.messageId!.slice(1, -1)}`);
  assert.match(err.message, /rfc822msgid:/);
});

Deno.test("a reply whose connection is reset after the request is outcome_unknown, not retryable", async () => {
  await using srv = hangingServer(
    () => false,
    (p) =>
      p.endsWith("/messages/orig1")
        ? {
          id: "orig1",
          threadId: "t1",
          payload: {
            headers: [
              { name: "Message-ID", value: "<orig@example.org>" },
              { name: "From", value: "bob@example.org" },
              { name: "Subject", value: "Question" },
            ],
          },
        }
        : {},
  );
  let posts = 0;
  const fetch: FetchLike = async (input, init) => {
    if (init?.method === "POST") {
      posts++;
      await globalThis.fetch(input, { ...init, signal: AbortSignal.timeout(5000) }).catch(() => {});
      // What the net layer reports for a reset once the request was written.
      throw new McsError(
        "outcome_unknown",
        "connection reset after the request was sent",
        "runtime",
        {
          retryable: false,
        },
      );
    }
    return await globalThis.fetch(input, init);
  };
  const err = await clientFor(srv.url, fetch).send({ replyToMessageId: "orig1", text: "ok" }).then(
    () => assert.fail("expected an error"),
    (e) => e,
  );
  assert.equal(posts, 1, "not retried");
  assert.ok(err instanceof McsError);
  assert.equal(err.code, "outcome_unknown");
  assert.equal(err.retryable, false);
  assert.equal(err.details?.thread_id, "t1");
  assert.match(String(err.details?.message_id), /^<.+@mcs\.local>$/);
});

Deno.test("drafts.send that times out is outcome_unknown with the draft's Message-ID", async () => {
  await using srv = hangingServer(
    (p) => p.endsWith("/drafts/send"),
    (p) =>
      p.endsWith("/drafts/d1")
        ? {
          id: "d1",
          message: {
            id: "m1",
            threadId: "t1",
            payload: { headers: [{ name: "Message-ID", value: "<draft-1@example.org>" }] },
          },
        }
        : {},
  );
  using net = createNet({ env: {}, timeoutMs: 300 });
  const err = await clientFor(srv.url, net).sendDraft("d1").then(
    () => assert.fail("expected an error"),
    (e) => e,
  );
  assert.ok(err instanceof McsError);
  assert.equal(err.code, "outcome_unknown");
  assert.equal(err.retryable, false);
  assert.equal(err.details?.draft_id, "d1");
  assert.equal(err.details?.message_id, "<draft-1@example.org>");
  assert.equal(err.details?.query, "in:sent rfc822msgid:draft-1@example.org");
});

Deno.test("a message over Gmail's 35 MB is refused before any request", async () => {
  let requests = 0;
  const fetch: FetchLike = () => {
    requests++;
    return Promise.resolve(Response.json({}));
  };
  const client = clientFor("http://127.0.0.1:9", fetch);
  // In memory: 27 MB of content is over 35 MB once base64-encoded.
  const content = new Uint8Array(27 * 1024 * 1024);
  for (
    const send of [
      () =>
        client.send({
          to: "bob@example.org",
          subject: "big",
          text: "x",
          attachments: [{ content, filename: "a.bin" }],
        }),
      () =>
        client.createDraft({
          to: "bob@example.org",
          subject: "big",
          text: "x",
          attachments: [{ content, filename: "a.bin" }],
        }),
    ]
  ) {
    await assert.rejects(send, (e) => {
      assert.ok(e instanceof UsageError);
      assert.equal(e.code, "message_too_large");
      assert.equal(e.details?.limit, MAX_MESSAGE_BYTES);
      assert.ok((e.details?.size as number) > MAX_MESSAGE_BYTES);
      return true;
    });
  }
  // From a file: refused from its size, without reading it.
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/huge.bin`;
    using file = await Deno.open(path, { create: true, write: true });
    await file.truncate(MAX_MESSAGE_BYTES + 1);
    await assert.rejects(
      () =>
        client.send({ to: "bob@example.org", subject: "big", text: "x", attachments: [{ path }] }),
      (e) => e instanceof UsageError && e.code === "message_too_large" && e.details?.path === path,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(requests, 0);
});

Deno.test("a send whose connection is closed after the request was read is outcome_unknown", async () => {
  // A raw TCP server: read the whole request, then close the connection without an answer.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let requests = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      requests++;
      const buf = new Uint8Array(65536);
      let text = "";
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        text += new TextDecoder().decode(buf.subarray(0, n));
        const head = text.indexOf("\r\n\r\n");
        const length = Number(/content-length: *(\d+)/i.exec(text)?.[1] ?? NaN);
        if (head >= 0 && new TextEncoder().encode(text.slice(head + 4)).length >= length) break;
      }
      conn.close();
    }
  })();
  try {
    using net = createNet({ env: {}, timeoutMs: 5000 });
    const err = await clientFor(`http://127.0.0.1:${listener.addr.port}`, net)
      .send({ to: "bob@example.org", subject: "hi", text: "x" })
      .then(() => assert.fail("expected an error"), (e) => e);
    assert.ok(err instanceof McsError);
    assert.equal(err.code, "outcome_unknown");
    assert.equal(err.retryable, false);
    // Today's network layer says connection_reset; once it tells resets after the request was
    // written apart, it says outcome_unknown itself.
    assert.match(String(err.details?.cause), /^(connection_reset|outcome_unknown)$/);
    assert.match(String(err.details?.message_id), /^<.+>$/);
    assert.equal(requests, 1, "not retried");
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});
