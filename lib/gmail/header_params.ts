/**
 * Parse a MIME header value with parameters, `type/subtype; a=b; c="d"`, including RFC 2231
 * extended (`name*=UTF-8''…`) and continued (`name*0*=…; name*1*=…`) parameters and RFC 2047
 * words in plain values. Used to read a part's charset and a batch response's boundary.
 *
 * @example
 * ```ts
 * import { parseHeaderParams } from "./header_params.ts";
 * parseHeaderParams('text/plain; charset="ISO-8859-1"'); // { value: "text/plain", params: { charset: "ISO-8859-1" } }
 * ```
 * @module
 */

import { decodeCharset, decodeEncodedWords } from "./encoding.ts";

/** Parse `type/subtype; a=b; c="d"` including RFC 2231 `name*=` and `name*0*=` forms. */
export function parseHeaderParams(
  value: string,
): { value: string; params: Record<string, string> } {
  const segments: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"' && value[i - 1] !== "\\") quoted = !quoted;
    if (c === ";" && !quoted) {
      segments.push(cur);
      cur = "";
    } else cur += c;
  }
  segments.push(cur);
  const main = segments.shift()!.trim().toLowerCase();
  const simple: Record<string, string> = {};
  const continued: Record<string, { idx: number; val: string; enc: boolean }[]> = {};
  for (const seg of segments) {
    const eq = seg.indexOf("=");
    if (eq < 0) continue;
    const rawName = seg.slice(0, eq).trim().toLowerCase();
    let v = seg.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) {
      v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    const m = /^([^*]+)\*(?:(\d+)\*?)?$/.exec(rawName);
    const star = rawName.endsWith("*");
    if (m) {
      (continued[m[1]] ??= []).push({ idx: m[2] ? Number(m[2]) : 0, val: v, enc: star });
    } else simple[rawName] = decodeEncodedWords(v);
  }
  for (const [name, pieces] of Object.entries(continued)) {
    pieces.sort((a, b) => a.idx - b.idx);
    let charset = "utf-8";
    const bytes: number[] = [];
    pieces.forEach((p, i) => {
      let val = p.val;
      if (p.enc && i === 0) {
        const m = /^([^']*)'[^']*'(.*)$/.exec(val);
        if (m) {
          charset = m[1] || "utf-8";
          val = m[2];
        }
      }
      if (p.enc) {
        for (let j = 0; j < val.length; j++) {
          if (val[j] === "%" && /^[0-9a-fA-F]{2}$/.test(val.slice(j + 1, j + 3))) {
            bytes.push(parseInt(val.slice(j + 1, j + 3), 16));
            j += 2;
          } else bytes.push(...new TextEncoder().encode(val[j]));
        }
      } else bytes.push(...new TextEncoder().encode(val));
    });
    simple[name] = decodeCharset(Uint8Array.from(bytes), charset);
  }
  return { value: main, params: simple };
}
