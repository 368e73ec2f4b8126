/**
 * A loopback port that was free a moment ago, for tests that must pass a fixed port to a child
 * process (e.g. the auth0-oauth callback port).
 * @module
 */

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}
