/**
 * Build RFC 5322 / MIME messages for Gmail's `raw` send: address validation, header-injection
 * rejection, RFC 2047 headers for non-ASCII text, `multipart/alternative` for text + HTML,
 * `multipart/mixed` for attachments (RFC 2231 file names), reply headers.
 *
 * Hand-rolled on purpose: the candidate library (npm `mimetext`) added ~70 ms to every cold
 * start and 160 KB to the bundle for ~200 lines of well-specified code; messages built here are
 * checked against an independent parser (postal-mime) in the tests.
 *
 * @example
 * ```ts
 * import { buildMime, parseAddressList } from "./mime_build.ts";
 * const raw = buildMime({
 *   to: parseAddressList("Bob <bob@example.com>", "to"),
 *   subject: "Grüße", text: "Hallo",
 * });
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import { base64Wrapped, encodeHeaderText, encodeRfc2231, isAscii, utf8 } from "./encoding.ts";

/** A mailbox: optional display name and an address. */
export interface Address {
  name?: string;
  email: string;
}

/** A file to attach. */
export interface OutgoingAttachment {
  filename: string;
  mimeType: string;
  content: Uint8Array;
}

/** Everything {@link buildMime} needs. Addresses must already be validated. */
export interface MimeInput {
  from?: Address;
  to: Address[];
  cc?: Address[];
  bcc?: Address[];
  replyTo?: Address[];
  subject: string;
  text?: string;
  html?: string;
  attachments?: OutgoingAttachment[];
  /** Message-ID of the message being answered, with angle brackets. */
  inReplyTo?: string;
  /** Message-IDs of the thread, oldest first, with angle brackets. */
  references?: string[];
  date?: Date;
  messageId?: string;
}

const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^(?=.{1,253}$)([\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+[\p{L}]{2,63}$/u;

/** Reject CR/LF (and NUL) in anything that ends up in a header. */
export function assertHeaderSafe(value: string, field: string): void {
  // deno-lint-ignore no-control-regex
  if (/[\r\n\x00]/.test(value)) {
    throw new UsageError(
      "header_injection",
      `The ${field} contains a line break or NUL character; header values must be one line.`,
      { details: { field } },
    );
  }
}

/** Whether `email` is a syntactically valid addr-spec (dot-atom local part, dotted domain). */
export function isValidEmail(email: string): boolean {
  const at = email.lastIndexOf("@");
  if (at <= 0 || at === email.length - 1 || email.length > 254) return false;
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  return local.length <= 64 && LOCAL.test(local) && DOMAIN.test(domain);
}

function splitList(input: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  let angle = false;
  for (const c of input) {
    if (c === '"') quoted = !quoted;
    else if (c === "<" && !quoted) angle = true;
    else if (c === ">" && !quoted) angle = false;
    if ((c === "," || c === ";") && !quoted && !angle) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

/**
 * Parse and validate `"Name" <a@b.c>, d@e.f` (or an array of such strings).
 * @throws {UsageError} `invalid_address` / `header_injection`.
 */
export function parseAddressList(
  input: string | readonly string[] | undefined,
  field: string,
): Address[] {
  if (input === undefined) return [];
  const items = (typeof input === "string" ? [input] : input).flatMap((s) => {
    assertHeaderSafe(s, field);
    return splitList(s);
  });
  return items.map((item) => {
    const m = /^(.*?)\s*<([^<>]+)>$/.exec(item);
    const email = (m ? m[2] : item).trim();
    let name = m ? m[1].trim() : undefined;
    if (name?.startsWith('"') && name.endsWith('"') && name.length >= 2) {
      name = name.slice(1, -1).replace(/\\(.)/g, "$1");
    }
    if (!isValidEmail(email)) {
      throw new UsageError(
        "invalid_address",
        `Invalid e-mail address in ${field}: "${
          item.slice(0, 100)
        }". Use name@domain.tld or "Name <name@domain.tld>".`,
        { details: { field } },
      );
    }
    return name ? { name, email } : { email };
  });
}

/** Format an address for a header, RFC 2047-encoding a non-ASCII display name. */
export function formatAddress(a: Address): string {
  if (!a.name) return a.email;
  const name = isAscii(a.name)
    ? (/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+$/.test(a.name)
      ? a.name
      : `"${a.name.replace(/(["\\])/g, "\\$1")}"`)
    : encodeHeaderText(a.name);
  return `${name} <${a.email}>`;
}

function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

function rfc2822Date(d: Date): string {
  return d.toUTCString().replace("GMT", "+0000");
}

function textPart(content: string, subtype: "plain" | "html"): string {
  const normalized = content.replace(/\r?\n/g, "\r\n");
  const simple = isAscii(normalized) && normalized.split("\r\n").every((l) => l.length <= 998);
  const head = `Content-Type: text/${subtype}; charset="UTF-8"\r\n`;
  return simple
    ? `${head}Content-Transfer-Encoding: 7bit\r\n\r\n${normalized}`
    : `${head}Content-Transfer-Encoding: base64\r\n\r\n${base64Wrapped(utf8(normalized))}`;
}

function quoteParam(name: string, value: string): string {
  if (isAscii(value)) return `${name}="${value.replace(/(["\\])/g, "\\$1")}"`;
  return `${name}*=${encodeRfc2231(value)}`;
}

function attachmentPart(a: OutgoingAttachment): string {
  assertHeaderSafe(a.filename, "attachment file name");
  assertHeaderSafe(a.mimeType, "attachment MIME type");
  if (!/^[\w.+-]+\/[\w.+-]+$/.test(a.mimeType)) {
    throw new UsageError("invalid_mime_type", `Invalid attachment MIME type "${a.mimeType}".`);
  }
  return `Content-Type: ${a.mimeType}; ${quoteParam("name", a.filename)}\r\n` +
    `Content-Disposition: attachment; ${quoteParam("filename", a.filename)}\r\n` +
    `Content-Transfer-Encoding: base64\r\n\r\n${base64Wrapped(a.content)}`;
}

function multipart(subtype: string, parts: string[]): string {
  const boundary = `mcs_${subtype}_${randomHex(12)}`;
  return `Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n\r\n` +
    parts.map((p) => `--${boundary}\r\n${p}\r\n`).join("") + `--${boundary}--`;
}

/**
 * Build the raw message bytes.
 * @throws {UsageError} on header injection, a missing body or recipients.
 */
export function buildMime(input: MimeInput): Uint8Array {
  assertHeaderSafe(input.subject, "subject");
  for (
    const a of [
      ...(input.from ? [input.from] : []),
      ...input.to,
      ...(input.cc ?? []),
      ...(input.bcc ?? []),
      ...(input.replyTo ?? []),
    ]
  ) {
    assertHeaderSafe(a.email, "address");
    if (a.name) assertHeaderSafe(a.name, "display name");
  }
  if (input.inReplyTo) assertHeaderSafe(input.inReplyTo, "In-Reply-To");
  for (const r of input.references ?? []) assertHeaderSafe(r, "References");
  if (input.to.length + (input.cc?.length ?? 0) + (input.bcc?.length ?? 0) === 0) {
    throw new UsageError(
      "missing_recipient",
      "At least one recipient (to, cc or bcc) is required.",
    );
  }
  const headers: string[] = [];
  if (input.from) headers.push(`From: ${formatAddress(input.from)}`);
  if (input.to.length) headers.push(`To: ${input.to.map(formatAddress).join(", ")}`);
  if (input.cc?.length) headers.push(`Cc: ${input.cc.map(formatAddress).join(", ")}`);
  if (input.bcc?.length) headers.push(`Bcc: ${input.bcc.map(formatAddress).join(", ")}`);
  if (input.replyTo?.length) {
    headers.push(`Reply-To: ${input.replyTo.map(formatAddress).join(", ")}`);
  }
  headers.push(`Subject: ${encodeHeaderText(input.subject)}`);
  headers.push(`Date: ${rfc2822Date(input.date ?? new Date())}`);
  const domain = input.from?.email.split("@")[1] ?? "mcs.local";
  headers.push(`Message-ID: ${input.messageId ?? `<${randomHex(16)}@${domain}>`}`);
  if (input.inReplyTo) headers.push(`In-Reply-To: ${input.inReplyTo}`);
  if (input.references?.length) headers.push(`References: ${input.references.join(" ")}`);
  headers.push("MIME-Version: 1.0");

  const hasText = input.text !== undefined && input.text !== "";
  const hasHtml = input.html !== undefined && input.html !== "";
  let body: string;
  if (hasText && hasHtml) {
    body = multipart("alternative", [
      textPart(input.text!, "plain"),
      textPart(input.html!, "html"),
    ]);
  } else if (hasHtml) body = textPart(input.html!, "html");
  else body = textPart(input.text ?? "", "plain");
  if (input.attachments?.length) {
    body = multipart("mixed", [body, ...input.attachments.map(attachmentPart)]);
  }
  return utf8(headers.join("\r\n") + "\r\n" + body + "\r\n");
}
