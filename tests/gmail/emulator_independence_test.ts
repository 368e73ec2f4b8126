/**
 * The Gmail emulator is a second implementation, not the client's mirror: it imports no client
 * code, reads batches exactly in Google's documented format (a literal written from Google's
 * batch guide is accepted; a part without `Content-Type: application/http` is refused like
 * Google refuses it), and its answers parse in the client. Its own MIME reader is pinned on
 * known answers.
 * @module
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { encodeBatchRequest, parseBatchResponse } from "../../lib/gmail/batch_wire.ts";
import { parseMessage, toPayload } from "../../lib/emulators/gmail/mime.ts";
import { FULL, setup } from "./_helpers.ts";
import { importGraph } from "../support/import_graph.ts";

Deno.test("the Gmail emulator and the Google token registry import no client code", async () => {
  for (const entry of ["lib/emulators/gmail/mod.ts", "lib/emulators/google_oauth.ts"]) {
    const graph = await importGraph(entry);
    assert(graph.size > 1, `walked ${entry}`);
    for (const file of graph.keys()) {
      assert(
        file.startsWith("lib/emulators/gmail/") || /^lib\/emulators\/google_\w+\.ts$/.test(file),
        `${entry} reaches ${file}, which is not emulator code`,
      );
    }
    const bare = [...graph.values()].flat().filter((s) => !s.startsWith("."));
    for (const s of bare) assert(s === "postal-mime", `unexpected dependency ${s}`);
  }
});

async function world() {
  const fixture = await setup();
  const emu = fixture.emu;
  const token = fixture.registry.issue({
    sub: "google-oauth2|1",
    email: "ada@example.com",
    scopes: [FULL],
    ttlS: 600,
  }).token;
  const post = (path: string, contentType: string, body: string | Uint8Array) =>
    fetch(emu.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": contentType },
      body: body as BodyInit,
    });
  const firstId = async () => {
    const r = await fetch(`${emu.url}/gmail/v1/users/me/messages?maxResults=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return (await r.json()).messages[0].id as string;
  };
  return { emu, post, firstId, [Symbol.asyncDispose]: () => fixture[Symbol.asyncDispose]() };
}

/**
 * Google's batch guide example, with Gmail paths: request lines without an HTTP version, a part
 * with headers and a JSON body, Content-IDs of the `<item1:…@…>` form.
 */
const documented = (id: string) =>
  [
    "--batch_foobarbaz",
    "Content-Type: application/http",
    "Content-ID: <item1:12930812@barnyard.example.com>",
    "",
    `GET /gmail/v1/users/me/messages/${id}?format=minimal`,
    "",
    "--batch_foobarbaz",
    "Content-Type: application/http",
    "Content-ID: <item2:12930812@barnyard.example.com>",
    "",
    `POST /gmail/v1/users/me/messages/${id}/modify`,
    "Content-Type: application/json",
    "",
    '{"addLabelIds": ["STARRED"]}',
    "",
    "--batch_foobarbaz",
    "Content-Type: application/http",
    "Content-ID: <item3:12930812@barnyard.example.com>",
    "",
    "GET /gmail/v1/users/me/profile HTTP/1.1",
    "",
    "--batch_foobarbaz--",
    "",
  ].join("\r\n");

Deno.test("a batch written by hand in Google's documented format is accepted", async () => {
  await using w = await world();
  const id = await w.firstId();
  const res = await w.post(
    "/batch/gmail/v1",
    "multipart/mixed; boundary=batch_foobarbaz",
    documented(id),
  );
  assertEquals(res.status, 200);
  const text = await res.text();
  for (const n of [1, 2, 3]) {
    assertMatch(
      text,
      new RegExp(`Content-ID: <response-item${n}:12930812@barnyard\\.example\\.com>`),
    );
  }
  const ct = res.headers.get("content-type")!;
  const parts = parseBatchResponse(ct, new TextEncoder().encode(text));
  const byId = Object.fromEntries(parts.map((p) => [p.id, p]));
  assertEquals(byId["item1:12930812@barnyard.example.com"].status, 200);
  assertEquals(JSON.parse(byId["item1:12930812@barnyard.example.com"].body).id, id);
  assertEquals(byId["item2:12930812@barnyard.example.com"].status, 200);
  assert(w.emu.mailbox.get(id)!.labelIds.has("STARRED"));
  assertEquals(
    JSON.parse(byId["item3:12930812@barnyard.example.com"].body).emailAddress,
    "ada@example.com",
  );
  // The same literal with bare LF line ends, at the discovery document's batchPath.
  const lf = await w.post(
    "/batch",
    "multipart/mixed; boundary=batch_foobarbaz",
    documented(id).replace(/\r\n/g, "\n"),
  );
  assertEquals(lf.status, 200);
  assertEquals(
    parseBatchResponse(lf.headers.get("content-type")!, new Uint8Array(await lf.arrayBuffer())).map(
      (p) => p.status,
    ),
    [200, 200, 200],
  );
});

Deno.test("a batch part without Content-Type: application/http is refused with 400, as Google does", async () => {
  await using w = await world();
  const id = await w.firstId();
  for (
    const broken of [
      documented(id).replace(
        "Content-Type: application/http\r\nContent-ID: <item2",
        "Content-ID: <item2",
      ),
      documented(id).replace(/Content-Type: application\/http/g, "Content-Type: text/plain"),
    ]
  ) {
    const res = await w.post(
      "/batch/gmail/v1",
      "multipart/mixed; boundary=batch_foobarbaz",
      broken,
    );
    assertEquals(res.status, 400);
    const json = await res.json();
    assertEquals(json.error.code, 400);
    assertEquals(json.error.status, "INVALID_ARGUMENT");
    assertMatch(json.error.message, /^Failed to parse batch request, error: /);
  }
  // Nothing ran: the STARRED modify in part 2 was not applied.
  assertEquals(w.emu.mailbox.get(id)!.labelIds.has("STARRED"), false);
  const empty = await w.post("/batch/gmail/v1", "multipart/mixed; boundary=b", "");
  assertEquals(empty.status, 400);
  assertMatch((await empty.json()).error.message, /0 items/);
});

Deno.test("the client's encodeBatchRequest output is accepted by the emulator", async () => {
  await using w = await world();
  const id = await w.firstId();
  const { body, contentType } = encodeBatchRequest([
    { id: "0", method: "GET", path: `/gmail/v1/users/me/messages/${id}?format=metadata` },
    {
      id: "1",
      method: "POST",
      path: `/gmail/v1/users/me/messages/${id}/modify`,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ removeLabelIds: ["UNREAD"] }),
    },
  ]);
  const res = await w.post("/batch/gmail/v1", contentType, body);
  assertEquals(res.status, 200);
  const parts = parseBatchResponse(
    res.headers.get("content-type")!,
    new Uint8Array(await res.arrayBuffer()),
  );
  assertEquals(parts.map((p) => [p.id, p.status]), [["0", 200], ["1", 200]]);
});

Deno.test("a batch response written by hand in Google's documented format parses in the client", () => {
  const literal = [
    "--batch_foobarbaz",
    "Content-Type: application/http",
    "Content-ID: <response-item1:12930812@barnyard.example.com>",
    "",
    "HTTP/1.1 200 OK",
    "Content-Type: application/json",
    "Content-Length: 33",
    "",
    '{"id":"18f0","threadId":"18f0"}',
    "",
    "--batch_foobarbaz",
    "Content-Type: application/http",
    "Content-ID: <response-item2:12930812@barnyard.example.com>",
    "",
    "HTTP/1.1 404 Not Found",
    "Content-Type: application/json",
    "",
    '{"error":{"code":404,"message":"Requested entity was not found."}}',
    "",
    "--batch_foobarbaz--",
    "",
  ].join("\r\n");
  const parts = parseBatchResponse(
    "multipart/mixed; boundary=batch_foobarbaz",
    new TextEncoder().encode(literal),
  );
  assertEquals(parts.map((p) => [p.id, p.status]), [
    ["item1:12930812@barnyard.example.com", 200],
    ["item2:12930812@barnyard.example.com", 404],
  ]);
  assertEquals(JSON.parse(parts[0].body), { id: "18f0", threadId: "18f0" });
});

Deno.test("the emulator's MIME reader: part ids, RFC 2231 and RFC 2047 names, transfer decoding", () => {
  const raw = [
    "From: =?UTF-8?B?w4lsb2TDrWU=?= <e@example.org>",
    "Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= and",
    " more",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="outer"',
    "",
    "preamble",
    "--outer",
    'Content-Type: multipart/alternative; boundary="alt"',
    "",
    "--alt",
    "Content-Type: text/plain; charset=ISO-8859-1",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    "Gr=FC=DFe, soft=",
    "break",
    "--alt",
    "Content-Type: text/html; charset=UTF-8",
    "Content-Transfer-Encoding: base64",
    "",
    "PHA+aGk8L3A+",
    "--alt--",
    "--outer",
    "Content-Type: application/pdf",
    "Content-Disposition: attachment; filename*0*=UTF-8''%E6%97%A5%E6%9C%AC; filename*1=.pdf",
    "Content-Transfer-Encoding: base64",
    "",
    "JVBERi0=",
    "--outer--",
    "epilogue",
  ].join("\r\n");
  const root = parseMessage(new TextEncoder().encode(raw));
  const payload = toPayload(root, (partId) => `att-${partId}`);
  assertEquals(payload.partId, "");
  assertEquals(payload.mimeType, "multipart/mixed");
  assertEquals(payload.body, { size: 0 });
  const header = (n: string) => payload.headers.find((h) => h.name === n)?.value;
  assertEquals(header("From"), "Élodíe <e@example.org>");
  assertEquals(header("Subject"), "Grüße and more");
  const [alt, pdf] = payload.parts!;
  assertEquals(alt.partId, "0");
  assertEquals(alt.parts!.map((p) => [p.partId, p.mimeType]), [["0.0", "text/plain"], [
    "0.1",
    "text/html",
  ]]);
  const plain = root.children[0].children[0];
  assertEquals(new TextDecoder("iso-8859-1").decode(plain.body), "Grüße, softbreak");
  assertEquals(alt.parts![1].body, { size: 9, data: "PHA-aGk8L3A-" });
  assertEquals(pdf.partId, "1");
  assertEquals(pdf.filename, "日本.pdf");
  assertEquals(pdf.body, { attachmentId: "att-1", size: 5 });
});
