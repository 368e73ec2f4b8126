/**
 * Every catalogue example (the calls SKILL.md shows) works against the Gmail emulator, with only
 * the ids (and the download directory) swapped for real ones: an example that fails as written,
 * like a draft with no body, fails here.
 * @module
 */

import { TOOLS } from "../../lib/tools/catalog.ts";
import { runTool } from "../../lib/tools/run.ts";
import { renderSkillMd } from "../../lib/tools/skill_md.ts";
import { setup } from "../gmail/_helpers.ts";
import { assert, assertStringIncludes } from "../support/assert.ts";

const WITH_INVOICE = [
  "From: Alice <alice@example.org>",
  "To: ada@example.com",
  "Subject: Invoice",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="b"',
  "",
  "--b",
  "Content-Type: text/plain",
  "",
  "Attached.",
  "--b",
  'Content-Type: application/pdf; name="invoice.pdf"',
  'Content-Disposition: attachment; filename="invoice.pdf"',
  "",
  "%PDF-1.4",
  "--b--",
  "",
].join("\r\n");

Deno.test("every tool's example runs as written (ids swapped for real ones)", async () => {
  await using f = await setup();
  const dir = await Deno.makeTempDir();
  try {
    for (const t of TOOLS) {
      const json = JSON.stringify(t.example);
      assert(!json.includes("'"), `${t.name}: the example is shown in single quotes`);
      const id = f.emu.mailbox.insert(WITH_INVOICE, { labels: ["INBOX", "UNREAD"] }).id;
      const draft = await f.client.createDraft({ to: "b@example.org", subject: "d", text: "t" });
      const args = JSON.parse(
        json.replaceAll("18f0a1b2c3d4e5f6", id),
        (k, v) => k === "draft_id" ? draft.id : k === "out_dir" ? dir : v,
      );
      try {
        await runTool(t.name, args, { gmail: f.client });
      } catch (e) {
        throw new Error(`${t.name} example ${json} fails: ${(e as Error).message}`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SKILL.md shows the examples and the whole auth_required document", () => {
  const text = renderSkillMd();
  for (const t of TOOLS) {
    const json = JSON.stringify(t.example);
    assertStringIncludes(text, `exec ${t.name}${json === "{}" ? "" : ` '${json}'`}\n`);
  }
  assertStringIncludes(text, '"expires_at", "retry_after_s"}` | The user must authorize');
});
