/**
 * Extra trusted CAs: `MCS_CA_FILE` names a PEM file (one or more certificates) for
 * TLS-inspecting proxies and the local emulators. The composition root reads it with
 * {@link readCaFile} and passes the result as `createNet({ caPem })`.
 *
 * @example
 * ```ts
 * import { readCaFile } from "./ca.ts";
 * const path = Deno.env.get("MCS_CA_FILE");
 * const caPem = path ? [await readCaFile(path)] : [];
 * ```
 * @module
 */
import { ConfigError } from "../errors.ts";

/** Read and sanity-check a PEM CA file; throws {@link ConfigError} with an actionable message. */
export async function readCaFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "it does not exist"
      : e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
      ? "reading it is not allowed"
      : "it cannot be read";
    throw new ConfigError(
      "ca_file_unreadable",
      `MCS_CA_FILE points to ${path}, but ${why}. Point it at a PEM certificate file or unset it.`,
      { cause: e },
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(
      "ca_file_invalid",
      `MCS_CA_FILE (${path}) contains no PEM certificate ("-----BEGIN CERTIFICATE-----").`,
    );
  }
  return text;
}
