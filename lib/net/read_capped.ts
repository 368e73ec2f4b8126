/**
 * Read a request body up to a byte limit, for the servers (`mcs serve`, `mcs broker serve`): the
 * chunks are counted as they arrive, so a body without a declared length (chunked) never
 * buffers more than `max` bytes, and the stream is cancelled as soon as it goes over.
 *
 * @example
 * ```ts
 * import { readCapped } from "./read_capped.ts";
 * const req = new Request("http://x/", { method: "POST", body: "hello" });
 * await readCapped(req.body!, 3); // undefined: over the limit
 * ```
 * @module
 */

/** The body's bytes, or `undefined` (and the stream cancelled) when it holds more than `max`. */
export async function readCapped(
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    parts.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
