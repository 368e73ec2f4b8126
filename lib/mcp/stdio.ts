/**
 * The stdio transport of `mcs mcp` on Deno's own streams: newline-delimited JSON-RPC on stdin and
 * stdout (the SDK's framing: `deserializeMessage` and `serializeMessage`), without Node's `process`
 * or `Buffer`.
 *
 * Guarantees: stdout carries protocol messages only, each written whole and in order (writes
 * are queued, never interleaved); end of stdin closes the transport (so the server exits when
 * the host goes away) once every request already received has been answered (at most
 * `drainMs`, default 30 s, later); a line that is not JSON-RPC is answered with a JSON-RPC error
 * (`-32700` not JSON, `-32600` not a message; `id: null`), reported through `onerror` and
 * skipped.
 *
 * @example
 * ```ts
 * import { DenoStdioTransport } from "./stdio.ts";
 * const transport = new DenoStdioTransport();
 * // await server.connect(transport); transport.closed resolves at end of input
 * ```
 * @module
 */

import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

// The SDK's values come through one dynamic import (lib/mcp/sdk.ts): the bundle keeps them in
// a file that only `mcs mcp` and `mcs serve` read.
const sdk = await import("mcp-sdk");

/** Byte streams the transport uses (Deno's stdin and stdout by default). */
export interface StdioStreams {
  input: ReadableStream<Uint8Array>;
  output: { write(p: Uint8Array): Promise<number> };
}

/** An MCP transport over stdin/stdout. */
export class DenoStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** Resolves once the transport has closed (end of input or `close()`). */
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #streams: StdioStreams;
  #pending = "";
  #writes: Promise<void> = Promise.resolve();
  #reader?: ReadableStreamDefaultReader<string>;
  #isClosed = false;
  /** Ids of requests received and not answered yet. */
  #inFlight = new Set<string | number>();
  #drained?: () => void;
  #drainMs: number;

  constructor(streams?: StdioStreams, options: { drainMs?: number } = {}) {
    this.#streams = streams ?? { input: Deno.stdin.readable, output: Deno.stdout };
    this.#drainMs = options.drainMs ?? 30_000;
    this.closed = new Promise((r) => (this.#resolveClosed = r));
  }

  start(): Promise<void> {
    this.#reader = this.#streams.input.pipeThrough(new TextDecoderStream()).getReader();
    this.#pump().catch((e) => this.onerror?.(e instanceof Error ? e : new Error(String(e))));
    return Promise.resolve();
  }

  async #pump(): Promise<void> {
    const reader = this.#reader!;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#pending += value;
        let nl: number;
        while ((nl = this.#pending.indexOf("\n")) >= 0) {
          const line = this.#pending.slice(0, nl).replace(/\r$/, "");
          this.#pending = this.#pending.slice(nl + 1);
          if (line.trim() === "") continue;
          let message: JSONRPCMessage;
          try {
            message = sdk.deserializeMessage(line);
          } catch (e) {
            this.onerror?.(e instanceof Error ? e : new Error(String(e)));
            // JSON-RPC 2.0: an unparsable or invalid message gets an error with a null id.
            const invalidJson = e instanceof SyntaxError;
            this.#write({
              jsonrpc: "2.0",
              id: null,
              error: invalidJson
                ? { code: -32700, message: "Parse error: the line is not JSON" }
                : { code: -32600, message: "Invalid request: not a JSON-RPC 2.0 message" },
            });
            continue;
          }
          if ("method" in message && "id" in message) this.#inFlight.add(message.id);
          this.onmessage?.(message);
        }
      }
      await this.#drain();
    } finally {
      await this.close();
    }
  }

  /** Wait until every received request has been answered, or `drainMs`. */
  async #drain(): Promise<void> {
    if (this.#inFlight.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((r) => (this.#drained = r)),
      new Promise<void>((r) => (timer = setTimeout(r, this.#drainMs))),
    ]);
    clearTimeout(timer);
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (("result" in message || "error" in message) && "id" in message) {
      this.#inFlight.delete(message.id as string | number);
      if (this.#inFlight.size === 0) this.#drained?.();
    }
    return this.#write(message);
  }

  #write(message: unknown): Promise<void> {
    const bytes = new TextEncoder().encode(sdk.serializeMessage(message as JSONRPCMessage));
    const out = this.#streams.output;
    this.#writes = this.#writes.then(async () => {
      let rest = bytes;
      while (rest.length > 0) rest = rest.subarray(await out.write(rest));
    });
    return this.#writes;
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    await this.#writes.catch(() => {});
    this.#reader?.cancel().catch(() => {});
    this.#pending = "";
    this.onclose?.();
    this.#resolveClosed();
  }
}
