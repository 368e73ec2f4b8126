/**
 * The emulator's own MIME reader, written from RFC 2045/2046/2047/2231 and independent of the
 * Gmail client's parser (an emulator never shares protocol code with the client it checks):
 * the part tree Gmail's `format=full` payload mirrors, transfer-decoded leaf bodies, decoded
 * header words (postal-mime's `decodeWords`), and the payload itself (`partId`, `mimeType`,
 * `filename`, `headers`, `body{size,data|attachmentId}`, `parts`).
 *
 * postal-mime flattens a message into text/html/attachments and parses asynchronously, so it
 * cannot give the tree; the tree walk here is small and sync.
 *
 * @example
 * ```ts
 * import { header, parseMessage } from "./mime.ts";
 * const root = parseMessage(new TextEncoder().encode("Subject: hi\r\n\r\nbody"));
 * header(root, "subject"); // "hi"
 * ```
 * @module
 */

import { decodeWords } from "postal-mime";
import { b64url, fromB64 } from "./bytes.ts";

/** A header, unfolded, its value not RFC 2047-decoded. */
export interface Header {
  name: string;
  value: string;
}

/** One node of the tree. */
export interface Part {
  headers: Header[];
  /** Lower-cased `type/subtype`. */
  type: string;
  /** Content-Type parameters (lower-cased names, decoded values). */
  params: Record<string, string>;
  /** File name from Content-Disposition `filename` or Content-Type `name`; "" if none. */
  filename: string;
  /** Transfer-decoded body (empty for a multipart). */
  body: Uint8Array;
  children: Part[];
}

/** One node of Gmail's `payload` (users.messages resource, `MessagePart`). */
export interface PayloadPart {
  partId: string;
  mimeType: string;
  filename: string;
  headers: { name: string; value: string }[];
  body: { size: number; data?: string; attachmentId?: string };
  parts?: PayloadPart[];
}

const latin1 = (bytes: Uint8Array): string => {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return s;
};

const bytesOf = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);

/** Decode bytes in a charset (unknown charsets read as UTF-8, never throws). */
export function decodeText(bytes: Uint8Array, charset = "utf-8"): string {
  try {
    return new TextDecoder(charset.trim().toLowerCase() || "utf-8").decode(bytes);
  } catch {
    return new TextDecoder().decode(bytes);
  }
}

/** RFC 2047 encoded words → text (postal-mime's decoder). */
export function decodeHeader(value: string): string {
  return decodeWords(value);
}

/** First header value by case-insensitive name. */
export function header(part: { headers: Header[] }, name: string): string | undefined {
  const n = name.toLowerCase();
  return part.headers.find((h) => h.name.toLowerCase() === n)?.value;
}

/** Split `value; a=b; c*0*=...` into the value and its parameters (RFC 2045 + RFC 2231). */
export function parseParams(input: string): { value: string; params: Record<string, string> } {
  const segs: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === "\\" && q) {
      cur += c + (input[++i] ?? "");
      continue;
    }
    if (c === '"') q = !q;
    if (c === ";" && !q) {
      segs.push(cur);
      cur = "";
    } else cur += c;
  }
  segs.push(cur);
  const value = segs.shift()!.trim().toLowerCase();
  const params: Record<string, string> = {};
  const pieces: Record<string, { n: number; v: string; ext: boolean }[]> = {};
  for (const s of segs) {
    const eq = s.indexOf("=");
    if (eq < 0) continue;
    const key = s.slice(0, eq).trim().toLowerCase();
    let v = s.slice(eq + 1).trim();
    if (v.length >= 2 && v[0] === '"' && v.endsWith('"')) {
      v = v.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    const m = /^([^*]+)\*(?:(\d+)(\*)?)?$/.exec(key);
    if (!m) {
      params[key] = decodeHeader(v);
      continue;
    }
    // `name*` (one extended piece) or `name*N` / `name*N*` (continuations).
    const ext = m[2] === undefined ? true : m[3] === "*";
    (pieces[m[1]] ??= []).push({ n: Number(m[2] ?? 0), v, ext });
  }
  for (const [name, list] of Object.entries(pieces)) {
    list.sort((a, b) => a.n - b.n);
    let charset = "utf-8";
    let bin = "";
    list.forEach((p, i) => {
      let v = p.v;
      if (p.ext && i === 0) {
        const m = /^([^']*)'[^']*'(.*)$/s.exec(v);
        if (m) [charset, v] = [m[1] || "utf-8", m[2]];
      }
      bin += p.ext
        ? v.replace(/%([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)))
        : latin1(new TextEncoder().encode(v));
    });
    params[name] = decodeText(bytesOf(bin), charset);
  }
  return { value, params };
}

function quotedPrintable(s: string): Uint8Array {
  const t = s.replace(/[ \t]+(\r?\n)/g, "$1").replace(/=\r?\n/g, "");
  return bytesOf(t.replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))));
}

function transferDecode(body: string, cte: string): Uint8Array {
  if (cte === "base64") {
    try {
      return fromB64(body.replace(/[^A-Za-z0-9+/]/g, ""));
    } catch {
      return bytesOf(body);
    }
  }
  if (cte === "quoted-printable") return quotedPrintable(body);
  return bytesOf(body);
}

/** Parse a binary-string entity (headers, blank line, body). */
function entity(bin: string, depth: number, fallbackType: string): Part {
  let head = "";
  let body = "";
  if (/^\r?\n/.test(bin)) body = bin.replace(/^\r?\n/, "");
  else {
    const gap = /\r?\n\r?\n/.exec(bin);
    head = gap ? bin.slice(0, gap.index) : bin;
    body = gap ? bin.slice(gap.index + gap[0].length) : "";
  }
  const headers: Header[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && headers.length) headers[headers.length - 1].value += line;
    else {
      const i = line.indexOf(":");
      if (i > 0) headers.push({ name: line.slice(0, i).trim(), value: line.slice(i + 1) });
    }
  }
  // Unfold (RFC 5322 2.2.3) and read raw 8-bit header bytes as UTF-8 (RFC 6532).
  for (const h of headers) h.value = decodeText(bytesOf(h.value.replace(/\r?\n/g, ""))).trim();
  const ct = parseParams(header({ headers }, "content-type") ?? fallbackType);
  const type = /^[^/\s]+\/[^/\s]+$/.test(ct.value) ? ct.value : fallbackType;
  const cd = header({ headers }, "content-disposition");
  const filename = (cd ? parseParams(cd).params.filename : undefined) ?? ct.params.name ?? "";
  const part: Part = {
    headers,
    type,
    params: ct.params,
    filename,
    body: new Uint8Array(),
    children: [],
  };
  const boundary = ct.params.boundary;
  if (type.startsWith("multipart/") && boundary && depth < 32) {
    // RFC 2046 5.1.1: a delimiter is CRLF "--" boundary at the start of a line; the CRLF before
    // it belongs to the delimiter; trailing whitespace (transport padding) is allowed.
    const childType = type === "multipart/digest" ? "message/rfc822" : "text/plain";
    const delim = "--" + boundary;
    const lines = body.split(/\r?\n/);
    const eols = body.match(/\r?\n/g) ?? [];
    let cur: string[] | undefined;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i].replace(/[ \t]+$/, "");
      if (l === delim || l === delim + "--") {
        if (cur) {
          part.children.push(entity(cur.join("").replace(/\r?\n$/, ""), depth + 1, childType));
        }
        if (l !== delim) {
          cur = undefined;
          break;
        }
        cur = [];
        continue;
      }
      cur?.push(lines[i] + (eols[i] ?? ""));
    }
    if (cur) part.children.push(entity(cur.join("").replace(/\r?\n$/, ""), depth + 1, childType));
  } else {
    const cte = (header({ headers }, "content-transfer-encoding") ?? "7bit").trim().toLowerCase();
    part.body = transferDecode(body, cte);
  }
  return part;
}

/** Parse a raw message into its MIME tree. Never throws. */
export function parseMessage(raw: Uint8Array): Part {
  return entity(latin1(raw), 0, "text/plain");
}

/** The text of a leaf, decoded by its `charset`. */
export function partText(p: Part): string {
  return decodeText(p.body, p.params.charset);
}

/**
 * Gmail's `payload` for a tree: part ids "" (root), "0", "0.1", ...; headers with encoded
 * words decoded; a multipart's body `{size: 0}`; a leaf with a file name carries an
 * `attachmentId` (minted by `attachmentId`), other leaves their bytes inline as base64url.
 */
export function toPayload(
  p: Part,
  attachmentId: (partId: string) => string,
  partId = "",
): PayloadPart {
  const out: PayloadPart = {
    partId,
    mimeType: p.type,
    filename: p.filename,
    headers: p.headers.map((h) => ({ name: h.name, value: decodeHeader(h.value) })),
    body: { size: 0 },
  };
  if (p.type.startsWith("multipart/")) {
    out.parts = p.children.map((c, i) =>
      toPayload(c, attachmentId, partId === "" ? String(i) : `${partId}.${i}`)
    );
  } else if (p.filename) out.body = { attachmentId: attachmentId(partId), size: p.body.length };
  else {
    out.body = { size: p.body.length, ...(p.body.length ? { data: b64url(p.body) } : {}) };
  }
  return out;
}

/** The part at a payload part id ("" is the root). */
export function partAt(root: Part, partId: string): Part | undefined {
  let p: Part | undefined = root;
  for (const i of partId === "" ? [] : partId.split(".")) p = p?.children[Number(i)];
  return p;
}
