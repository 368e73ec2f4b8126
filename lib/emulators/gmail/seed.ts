/**
 * The demo mailbox: ~60 realistic, deterministic messages relative to the mailbox clock —
 * threads, HTML newsletters, PDF/ICS attachments, an inline image, German (ISO-8859-1,
 * quoted-printable), Windows-1252, Japanese and emoji subjects and bodies, user labels
 * ("Receipts", "Work", "Travel", "Family", "Newsletters"), unread/starred/important, one spam
 * and one trashed message.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * import { seedMailbox } from "./seed.ts";
 * const box = seedMailbox(new Mailbox());
 * box.list().length; // ≈ 60
 * ```
 * @module
 */

import { utf8 } from "./bytes.ts";
import type { Mailbox } from "./mailbox.ts";

/** base64 in 76-character lines (RFC 2045 6.8). */
function base64Wrapped(bytes: Uint8Array): string {
  return (bytes.toBase64().match(/.{1,76}/g) ?? []).join("\r\n");
}

/** A header value: ASCII as is, anything else one RFC 2047 `B` word per 30 characters. */
function word(s: string): string {
  if (/^[\x20-\x7e]*$/.test(s)) return s;
  const chars = [...s];
  const words: string[] = [];
  for (let i = 0; i < chars.length; i += 30) {
    words.push(`=?UTF-8?B?${utf8(chars.slice(i, i + 30).join("")).toBase64()}?=`);
  }
  return words.join("\r\n ");
}

interface Addr {
  name?: string;
  email: string;
}

const addr = (a: Addr) => a.name ? `${word(a.name)} <${a.email}>` : a.email;

/**
 * The seed's own tiny message writer (the emulator never uses the client's builder): headers,
 * then a text and/or HTML body (multipart/alternative when both) and attachments
 * (multipart/mixed), every body base64 in UTF-8.
 */
function buildMime(m: {
  from: Addr;
  to: Addr[];
  cc?: Addr[];
  subject: string;
  text?: string;
  html?: string;
  attachments?: { filename: string; mimeType: string; content: Uint8Array }[];
  date: Date;
  messageId?: string;
}): string {
  let n = 0;
  const boundary = () => `=_seed_${++n}_${m.subject.length}`;
  const leaf = (type: string, text: string) =>
    `Content-Type: ${type}; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${
      base64Wrapped(utf8(text.replace(/\r?\n/g, "\r\n")))
    }`;
  const multipart = (type: string, parts: string[]) => {
    const b = boundary();
    return `Content-Type: multipart/${type}; boundary="${b}"\r\n\r\n` +
      parts.map((p) => `--${b}\r\n${p}\r\n`).join("") + `--${b}--`;
  };
  const bodies = [
    ...(m.text !== undefined ? [leaf("text/plain", m.text)] : []),
    ...(m.html !== undefined ? [leaf("text/html", m.html)] : []),
  ];
  let body = bodies.length > 1 ? multipart("alternative", bodies) : bodies[0];
  if (m.attachments?.length) {
    body = multipart("mixed", [
      body,
      ...m.attachments.map((a) =>
        `Content-Type: ${a.mimeType}; name="${a.filename}"\r\nContent-Disposition: attachment; filename="${a.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${
          base64Wrapped(a.content)
        }`
      ),
    ]);
  }
  const head = [
    `From: ${addr(m.from)}`,
    `To: ${m.to.map(addr).join(", ")}`,
    ...(m.cc?.length ? [`Cc: ${m.cc.map(addr).join(", ")}`] : []),
    `Subject: ${word(m.subject)}`,
    `Date: ${m.date.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: ${m.messageId ?? `<seed-${m.date.getTime()}@mail.example>`}`,
    "MIME-Version: 1.0",
  ];
  return head.join("\r\n") + "\r\n" + body + "\r\n";
}

const HOUR = 3_600_000;

/** Deterministic fake PDF bytes for receipts. */
export function fakePdf(n: number): Uint8Array {
  const body = `%PDF-1.4\n% receipt ${n}\n1 0 obj << /Type /Catalog >> endobj\n` +
    "x".repeat(200 + n * 13) + "\n%%EOF\n";
  const bytes = utf8(body);
  bytes[10] = 0xe2; // a non-ASCII byte, like real PDFs
  bytes[11] = 0xe3;
  return bytes;
}

/** Fill `box` with the demo messages (returns the same mailbox). */
export function seedMailbox(box: Mailbox): Mailbox {
  const me = box.owner;
  const t0 = box.now();
  let k = 0;
  const at = () => t0 - (++k) * 5 * HOUR;
  const date = (ms: number) => new Date(ms).toUTCString().replace("GMT", "+0000");
  const add = (
    raw: Uint8Array | string,
    labels: string[],
    ms = at(),
  ) => box.insert(raw, { labels, internalDate: ms });

  // 1. A work thread (3 messages, one sent by the owner).
  const t1 = at();
  add(
    `From: Alice Martin <alice@example.org>\r\nTo: ${me}\r\nSubject: Quarterly report draft\r\nDate: ${
      date(t1)
    }\r\nMessage-ID: <q-report-1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHi Ada,\r\n\r\nattached thoughts on the quarterly report. Can you review the budget section by Thursday?\r\n\r\nAlice\r\n`,
    ["INBOX", "Work", "IMPORTANT"],
    t1,
  );
  add(
    `From: Ada Lovelace <${me}>\r\nTo: Alice Martin <alice@example.org>\r\nSubject: Re: Quarterly report draft\r\nDate: ${
      date(t1 + HOUR)
    }\r\nMessage-ID: <q-report-2@example.com>\r\nIn-Reply-To: <q-report-1@example.org>\r\nReferences: <q-report-1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nSure, I will send comments on the budget tomorrow.\r\n`,
    ["SENT", "Work"],
    t1 + HOUR,
  );
  add(
    `From: Alice Martin <alice@example.org>\r\nTo: ${me}\r\nSubject: Re: Quarterly report draft\r\nDate: ${
      date(t1 + 2 * HOUR)
    }\r\nMessage-ID: <q-report-3@example.org>\r\nIn-Reply-To: <q-report-2@example.com>\r\nReferences: <q-report-1@example.org> <q-report-2@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThanks! No rush.\r\n`,
    ["INBOX", "UNREAD", "Work"],
    t1 + 2 * HOUR,
  );

  // 2. Receipts with PDF attachments.
  const shops = [
    "Bookshop Ltd",
    "Coffee Roasters",
    "Rail Tickets",
    "Cloud Hosting",
    "Hardware Store",
    "Grocer",
    "Streaming Co",
    "Airline",
  ];
  shops.forEach((shop, i) => {
    const raw = buildMime({
      from: { name: shop, email: `billing@${shop.toLowerCase().replace(/\s+/g, "")}.example` },
      to: [{ email: me }],
      subject: `Your receipt #${1040 + i} from ${shop}`,
      text: `Thank you for your purchase.\n\nOrder: ${1040 + i}\nTotal: ${
        (12.5 + i * 7.25).toFixed(2)
      } EUR\n`,
      html:
        `<html><body><h1>Receipt</h1><p>Thank you for your purchase.</p><table><tr><td>Order</td><td>${
          1040 + i
        }</td></tr><tr><td>Total</td><td>${
          (12.5 + i * 7.25).toFixed(2)
        } EUR</td></tr></table></body></html>`,
      attachments: [{
        filename: `receipt-${1040 + i}.pdf`,
        mimeType: "application/pdf",
        content: fakePdf(i),
      }],
      date: new Date(t0 - (k + 1) * 5 * HOUR),
      messageId: `<receipt-${1040 + i}@shop.example>`,
    });
    add(raw, i % 3 === 0 ? ["INBOX", "Receipts", "UNREAD"] : ["Receipts"]);
  });

  // 3. German, ISO-8859-1 quoted-printable, encoded subject.
  add(
    `From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <juergen@beispiel.de>\r\nTo: ${me}\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_M=FCnchen?=\r\nDate: ${
      date(t0 - 60 * HOUR)
    }\r\nMessage-ID: <gruesse@beispiel.de>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHallo Ada,\r\n\r\nviele Gr=FC=DFe aus M=FCnchen! Das Wetter ist sch=F6n und die Stra=DFen sind =\r\nvoller Leute.\r\n\r\nBis bald,\r\nJ=FCrgen\r\n`,
    ["INBOX", "Family", "STARRED"],
  );

  // 4. Windows-1252 with euro sign and smart quotes.
  add(
    Uint8Array.from([
      ...utf8(
        `From: Pierre Durand <pierre@exemple.fr>\r\nTo: ${me}\r\nSubject: Invoice for the workshop\r\nDate: ${
          date(t0 - 70 * HOUR)
        }\r\nMessage-ID: <cp1252@exemple.fr>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`,
      ),
      ...utf8("The total is 250 "),
      0x80,
      0x20,
      0x93,
      ...utf8("payable on receipt"),
      0x94,
      ...utf8(".\r\n"),
    ]),
    ["INBOX", "Work"],
  );

  // 5. Japanese (UTF-8, base64) and emoji.
  add(
    buildMime({
      from: { name: "田中 花子", email: "hanako@example.jp" },
      to: [{ email: me }],
      subject: "会議の議事録",
      text: "エイダさん\n\n本日の会議の議事録を共有します。次回は金曜日です。\n\n田中",
      date: new Date(t0 - 75 * HOUR),
      messageId: "<gijiroku@example.jp>",
    }),
    ["INBOX", "Work", "UNREAD"],
  );
  add(
    buildMime({
      from: { name: "Sam", email: "sam@example.net" },
      to: [{ email: me }],
      cc: [{ name: "Alice Martin", email: "alice@example.org" }],
      subject: "🎉 Party on Friday",
      text: "Bring snacks 🍕🥤! Starts at 7pm.",
      date: new Date(t0 - 80 * HOUR),
      messageId: "<party@example.net>",
    }),
    ["INBOX", "Family", "UNREAD", "STARRED"],
  );

  // 6. HTML-only newsletters.
  for (let i = 0; i < 6; i++) {
    add(
      buildMime({
        from: { name: "Deno Weekly", email: "news@weekly.example" },
        to: [{ email: me }],
        subject: `Deno Weekly #${120 + i}: what's new`,
        html: `<html><head><style>p{color:red}</style></head><body><h2>Issue ${
          120 + i
        }</h2><p>Top story: <a href="https://example.com/story/${i}">Fresh release notes</a> &amp; more.</p><ul><li>Item one</li><li>Item two</li></ul></body></html>`,
        date: new Date(t0 - (100 + i * 24) * HOUR),
      }),
      i < 2
        ? ["INBOX", "Newsletters", "UNREAD", "CATEGORY_UPDATES"]
        : ["Newsletters", "CATEGORY_UPDATES"],
    );
  }

  // 7. Travel: itinerary with ICS + inline image (multipart/related).
  const png = Uint8Array.from([
    0x89,
    0x50,
    0x4e,
    0x47,
    0x0d,
    0x0a,
    0x1a,
    0x0a,
    0,
    0,
    0,
    13,
    73,
    72,
    68,
    82,
  ]);
  add(
    `From: Trips <trips@travel.example>\r\nTo: ${me}\r\nSubject: Your itinerary: Berlin, 12 June\r\nDate: ${
      date(t0 - 90 * HOUR)
    }\r\nMessage-ID: <itinerary@travel.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="outer"\r\n\r\n--outer\r\nContent-Type: multipart/related; boundary="rel"\r\n\r\n--rel\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n<p>Your train leaves at <b>08:15</b>.</p><img src="cid:logo">\r\n--rel\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Disposition: inline; filename="logo.png"\r\nContent-Transfer-Encoding: base64\r\n\r\n${
      base64Wrapped(png)
    }\r\n--rel--\r\n--outer\r\nContent-Type: text/calendar; charset=UTF-8; name="trip.ics"\r\nContent-Disposition: attachment; filename="trip.ics"\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n--outer--\r\n`,
    ["INBOX", "Travel", "IMPORTANT"],
  );

  // 8. Spam and trash.
  add(
    `From: winner@lottery.example\r\nTo: ${me}\r\nSubject: You won!!!\r\nDate: ${
      date(t0 - 95 * HOUR)
    }\r\n\r\nClaim your prize.\r\n`,
    ["SPAM"],
  );
  add(
    `From: old@example.org\r\nTo: ${me}\r\nSubject: Old notice\r\nDate: ${
      date(t0 - 96 * HOUR)
    }\r\n\r\nThis was deleted.\r\n`,
    ["TRASH"],
  );

  // 9. Filler notifications to reach ~60 messages.
  const senders = [
    [
      "GitHub",
      "notifications@github.example",
      "[mcs] New issue: proxy support",
      "A new issue was opened about proxy support.",
    ],
    [
      "Calendar",
      "calendar@example.com",
      "Reminder: standup at 09:30",
      "Daily standup in 15 minutes.",
    ],
    [
      "Bob Stone",
      "bob@example.org",
      "Lunch tomorrow?",
      "Are you free for lunch tomorrow around noon?",
    ],
    [
      "Bank",
      "alerts@bank.example",
      "Statement available",
      "Your monthly statement is ready to view.",
    ],
  ];
  for (let i = 0; i < 38; i++) {
    const [name, email, subject, text] = senders[i % senders.length];
    add(
      buildMime({
        from: { name, email },
        to: [{ email: me }],
        subject: `${subject} (${i + 1})`,
        text: `${text}\n\nReference ${i + 1}.`,
        date: new Date(t0 - (130 + i * 9) * HOUR),
        messageId: `<filler-${i}@${email.split("@")[1]}>`,
      }),
      i % 5 === 0 ? ["INBOX", "UNREAD"] : i % 7 === 0 ? ["INBOX", "STARRED"] : ["INBOX"],
    );
  }
  return box;
}
