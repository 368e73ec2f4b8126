/**
 * The floor of a cached-token search: the least a Deno process can do to answer
 * `mcs exec search_emails '{"query":"in:inbox","limit":20}'`. It reads one token from a file,
 * trusts the CA file, makes the same two HTTPS requests mcs makes with a warm cache
 * (`messages.list`, then one batch of `messages.get?format=metadata` for the ids) and prints the
 * messages as one JSON line. No retries, no error mapping, no configuration: what is left of mcs's
 * time above this script's is mcs's own cost (tests/bench/search_floor.ts measures both).
 *
 * Environment: `FLOOR_TOKEN_FILE` (the access token), `MCS_GMAIL_API_BASE` (the Gmail API base
 * URL), `MCS_CA_FILE` (optional: a PEM CA to trust), `FLOOR_QUERY` (default `in:inbox`),
 * `FLOOR_LIMIT` (default 20).
 *
 * @example
 * ```sh
 * FLOOR_TOKEN_FILE=/tmp/token MCS_GMAIL_API_BASE=https://127.0.0.1:8443 MCS_CA_FILE=/tmp/ca.pem \
 *   deno run --allow-net --allow-read --allow-env tests/bench/floor_search.ts
 * ```
 * @module
 */

const env = (name: string) => Deno.env.get(name);
const base = env("MCS_GMAIL_API_BASE")!.replace(/\/+$/, "");
const caFile = env("MCS_CA_FILE");
const [token, ca] = await Promise.all([
  Deno.readTextFile(env("FLOOR_TOKEN_FILE")!),
  caFile ? Deno.readTextFile(caFile) : undefined,
]);
const client = ca ? Deno.createHttpClient({ caCerts: [ca] }) : undefined;
const authorization = `Bearer ${token.trim()}`;
const users = "/gmail/v1/users/me";

const list = await fetch(
  `${base}${users}/messages?${new URLSearchParams({
    q: env("FLOOR_QUERY") ?? "in:inbox",
    maxResults: env("FLOOR_LIMIT") ?? "20",
  })}`,
  { headers: { authorization }, client },
);
if (!list.ok) throw new Error(`messages.list: HTTP ${list.status}`);
const ids = ((await list.json()).messages ?? []).map((m: { id: string }) => m.id) as string[];

const boundary = "floor_batch_boundary";
const meta = "format=metadata&metadataHeaders=From&metadataHeaders=To&metadataHeaders=Subject" +
  "&metadataHeaders=Date";
const body =
  ids.map((id, i) =>
    `--${boundary}\r\nContent-Type: application/http\r\nContent-ID: <item${i}>\r\n\r\n` +
    `GET ${users}/messages/${id}?${meta} HTTP/1.1\r\n\r\n\r\n`
  ).join("") + `--${boundary}--\r\n`;
const batch = await fetch(`${base}/batch/gmail/v1`, {
  method: "POST",
  headers: { authorization, "content-type": `multipart/mixed; boundary=${boundary}` },
  body,
  client,
});
if (!batch.ok) throw new Error(`batch: HTTP ${batch.status}`);
const reply = /boundary="?([^";]+)"?/.exec(batch.headers.get("content-type") ?? "")![1];
const messages = (await batch.text()).split(`--${reply}`).slice(1, -1).map((part) => {
  const m = JSON.parse(part.slice(part.indexOf("{"), part.lastIndexOf("}") + 1));
  const h = Object.fromEntries(
    (m.payload?.headers ?? []).map((x: { name: string; value: string }) => [x.name, x.value]),
  );
  return {
    id: m.id,
    thread_id: m.threadId,
    from: h.From,
    to: h.To,
    subject: h.Subject,
    date: h.Date,
    snippet: m.snippet,
    labels: m.labelIds,
  };
});
console.log(JSON.stringify({ ok: true, result: { messages } }));
client?.close();
