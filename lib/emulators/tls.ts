/**
 * A throwaway certificate authority for tests and `mcs dev`: it issues leaf certificates for
 * `127.0.0.1`/`localhost` (or any names) that `Deno.serve({ cert, key })` accepts and that a
 * Deno client trusts through `Deno.createHttpClient({ caCerts: [caPem] })` (or the network
 * layer's `caPem` option). Keys are ECDSA P-256 made with WebCrypto and never leave memory; no
 * `openssl` binary is needed.
 *
 * @example
 * ```ts
 * import { createTestCA } from "./tls.ts";
 * const ca = await createTestCA();
 * const { cert, key } = await ca.issue(["127.0.0.1", "localhost"]);
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, cert, key }, () => new Response("hi"));
 * const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
 * const res = await fetch(`https://127.0.0.1:${server.addr.port}/`, { client });
 * console.log(await res.text()); // "hi"
 * client.close();
 * await server.shutdown();
 * ```
 * @module
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the
// Reflect metadata polyfill to be loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

/** Options of {@link createTestCA}. */
export interface TestCAOptions {
  /** Common name of the CA certificate (default `mcs throwaway test CA`). */
  commonName?: string;
  /** Validity of the CA and of every leaf, in days (default 1). */
  validityDays?: number;
}

/** A PEM certificate (leaf only) and its PKCS#8 PEM private key. */
export interface IssuedCert {
  /** PEM `CERTIFICATE` of the leaf. */
  cert: string;
  /** PEM PKCS#8 `PRIVATE KEY` of the leaf. */
  key: string;
}

/** A throwaway CA: its PEM certificate and a function that issues server certificates. */
export interface TestCA {
  /** PEM certificate of the CA, to trust in clients (`caCerts`). */
  caPem: string;
  /**
   * Issue a server certificate whose subjectAltName lists `hostnames` (IPv4/IPv6 literals
   * become IP SANs, anything else DNS SANs).
   */
  issue(hostnames: string[]): Promise<IssuedCert>;
}

const ALG: EcKeyGenParams & EcdsaParams = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
};
const DAY_MS = 86_400_000;
/** Back-date certificates a little so that small clock differences do not matter. */
const SKEW_MS = 5 * 60_000;

let x509Ready = false;
function useWebCrypto(): void {
  if (!x509Ready) {
    x509.cryptoProvider.set(crypto);
    x509Ready = true;
  }
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive INTEGER
  bytes[0] |= 0x01; // and never a leading zero byte
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function isIpLiteral(name: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Create a throwaway CA (ECDSA P-256, in memory only).
 *
 * @example
 * ```ts
 * const ca = await createTestCA({ validityDays: 1 });
 * const leaf = await ca.issue(["127.0.0.1", "localhost"]);
 * ```
 */
export async function createTestCA(opts: TestCAOptions = {}): Promise<TestCA> {
  useWebCrypto();
  const validityMs = (opts.validityDays ?? 1) * DAY_MS;
  const caName = `CN=${opts.commonName ?? "mcs throwaway test CA"}`;
  const caKeys = await crypto.subtle.generateKey(ALG, false, ["sign", "verify"]);
  const notBefore = new Date(Date.now() - SKEW_MS);
  const notAfter = new Date(Date.now() + validityMs);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: caName,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  async function issue(hostnames: string[]): Promise<IssuedCert> {
    if (hostnames.length === 0) throw new TypeError("issue() needs at least one hostname");
    const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${hostnames[0]}`,
      issuer: caCert.subject,
      notBefore: new Date(Date.now() - SKEW_MS),
      notAfter: new Date(Math.min(Date.now() + validityMs, notAfter.getTime())),
      signingAlgorithm: ALG,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(
          hostnames.map((h): x509.JsonGeneralName => ({
            type: isIpLiteral(h) ? "ip" : "dns",
            value: h,
          })),
          false,
        ),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
      ],
    });
    const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
    return { cert: leaf.toString("pem") + "\n", key: toPem(pkcs8, "PRIVATE KEY") };
  }

  return { caPem: caCert.toString("pem") + "\n", issue };
}
