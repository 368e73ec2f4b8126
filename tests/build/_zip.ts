/**
 * Reading a zip back for the tests, independently of the library that wrote it: the central
 * directory is parsed here from the format (PKWARE APPNOTE 4.3.12: signature 0x02014b50, names and
 * external attributes), and extraction inflates each entry's data with the platform's
 * `DecompressionStream("deflate-raw")`.
 *
 * @example
 * ```ts
 * import { extractZip, zipEntries } from "./_zip.ts";
 * const zip = await Deno.readFile("dist/skill/gmail.zip");
 * zipEntries(zip).map((e) => `${e.mode.toString(8)} ${e.name}`); // ["40755 gmail/", ...]
 * await extractZip(zip, "/tmp/out");
 * ```
 * @module
 */

import { dirname, join } from "node:path";

/** One central-directory entry. */
export interface ZipEntry {
  name: string;
  /** Unix st_mode from the high 16 bits of the external attributes (0 when not recorded). */
  mode: number;
  /** 0 stored, 8 deflated. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the local file header. */
  offset: number;
}

/** The entries of the central directory, in archive order. */
export function zipEntries(zip: Uint8Array): ZipEntry[] {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  let eocd = -1;
  for (let i = zip.length - 22; i >= 0; i--) {
    if (v.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("no end of central directory record");
  const count = v.getUint16(eocd + 10, true);
  let p = v.getUint32(eocd + 16, true);
  const out: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (v.getUint32(p, true) !== 0x02014b50) throw new Error(`bad central header at ${p}`);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    const madeBy = v.getUint16(p + 4, true) >> 8;
    const attrs = v.getUint32(p + 38, true);
    out.push({
      name: new TextDecoder().decode(zip.subarray(p + 46, p + 46 + nameLen)),
      mode: madeBy === 3 ? attrs >>> 16 : 0,
      method: v.getUint16(p + 10, true),
      compressedSize: v.getUint32(p + 20, true),
      size: v.getUint32(p + 24, true),
      offset: v.getUint32(p + 42, true),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

async function inflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Extract every entry under `dir`, applying the recorded Unix modes. */
export async function extractZip(zip: Uint8Array, dir: string): Promise<void> {
  const v = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  for (const e of zipEntries(zip)) {
    const path = join(dir, e.name);
    if (e.name.endsWith("/")) {
      await Deno.mkdir(path, { recursive: true });
      if (e.mode) await Deno.chmod(path, e.mode & 0o777);
      continue;
    }
    const h = e.offset;
    if (v.getUint32(h, true) !== 0x04034b50) throw new Error(`bad local header for ${e.name}`);
    const start = h + 30 + v.getUint16(h + 26, true) + v.getUint16(h + 28, true);
    const raw = zip.subarray(start, start + e.compressedSize);
    const data = e.method === 0 ? raw : await inflateRaw(raw);
    if (data.length !== e.size) {
      throw new Error(`${e.name}: ${data.length} bytes, expected ${e.size}`);
    }
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, data);
    if (e.mode) await Deno.chmod(path, e.mode & 0o777);
  }
}
