/**
 * Gmail client benchmark against the emulator with injected per-request latency (default
 * 20 ms): search + list 50 messages with metadata (batch, pool and naive N+1 sequential), and
 * read one message with an attachment. Prints wall time, HTTP requests, API calls and the
 * ratio to the RTT.
 *
 * @example
 * ```sh
 * deno run -A tests/bench/gmail.ts            # 20 ms RTT
 * deno run -A tests/bench/gmail.ts --rtt 50
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { GoogleTokenRegistry } from "../../lib/emulators/google_tokens.ts";
import { startGmailEmulator } from "../../lib/emulators/gmail/mod.ts";
import { GmailClient, type GmailClientOptions } from "../../lib/gmail/mod.ts";

const { values } = parseArgs({
  options: { rtt: { type: "string", default: "20" }, runs: { type: "string", default: "3" } },
});
const rtt = Number(values.rtt);
const runs = Number(values.runs);

const googleTokens = new GoogleTokenRegistry();
const emu = await startGmailEmulator({ googleTokens, seed: true });
const { token } = googleTokens.issue({
  sub: "google-oauth2|bench",
  email: "ada@example.com",
  scopes: ["https://mail.google.com/"],
  ttlS: 3600,
});
const credentials = { getToken: () => Promise.resolve(token), invalidate: () => Promise.resolve() };
const client = (o: Partial<GmailClientOptions> = {}) =>
  new GmailClient({ credentials, apiBase: emu.url, ...o });

interface Row {
  scenario: string;
  wallMs: number;
  requests: number;
  apiCalls: number;
}

async function measure(scenario: string, fn: () => Promise<unknown>): Promise<Row> {
  const walls: number[] = [];
  let requests = 0;
  let apiCalls = 0;
  await fn(); // warm-up (JIT, connection)
  for (let i = 0; i < runs; i++) {
    emu.resetCounters();
    const t = performance.now();
    await fn();
    walls.push(performance.now() - t);
    requests = emu.requestCount;
    apiCalls = emu.calls.length;
  }
  walls.sort((a, b) => a - b);
  return { scenario, wallMs: walls[Math.floor(walls.length / 2)], requests, apiCalls };
}

try {
  emu.setLatency(rtt);
  const rows: Row[] = [];
  // Each run uses a fresh client (cold label cache), like a fresh CLI process.
  rows.push(
    await measure("search 50 + metadata (batch, default)", () => client().search({ limit: 50 })),
  );
  rows.push(
    await measure(
      "search 50 + metadata (pool of 4)",
      () => client({ metadataStrategy: "pool" }).search({ limit: 50 }),
    ),
  );
  rows.push(
    await measure(
      "search 50 + metadata (naive N+1 sequential)",
      () => client({ metadataStrategy: "sequential" }).search({ limit: 50 }),
    ),
  );
  const withAtt =
    (await client().search({ query: "label:Receipts has:attachment", limit: 1 })).items[0].id;
  rows.push(await measure("read 1 message with attachment", () => client().getMessage(withAtt)));
  const dir = await Deno.makeTempDir();
  try {
    rows.push(
      await measure("read + download its attachment", async () => {
        const c = client();
        await c.getMessage(withAtt);
        await c.downloadAttachment(withAtt, {}, dir, { overwrite: true });
      }),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  console.log(
    `Gmail client benchmark — emulator RTT ${rtt} ms, median of ${runs} runs, cold label cache\n`,
  );
  console.log(
    "scenario".padEnd(46) + "wall ms".padStart(9) + "requests".padStart(10) +
      "api calls".padStart(11) + "  × RTT",
  );
  for (const r of rows) {
    console.log(
      r.scenario.padEnd(46) + r.wallMs.toFixed(1).padStart(9) + String(r.requests).padStart(10) +
        String(r.apiCalls).padStart(11) + ("  " + (r.wallMs / rtt).toFixed(1)),
    );
  }
  const [batch, , naive] = rows;
  console.log(
    `\nbatch vs naive N+1: ${
      (naive.wallMs / batch.wallMs).toFixed(1)
    }× faster, ${naive.requests} → ${batch.requests} HTTP requests`,
  );
} finally {
  await emu.close();
}
