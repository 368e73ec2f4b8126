/**
 * The broker's Prometheus counters, served as text exposition format 0.0.4 at `/metrics`.
 * Counters are per process (each replica exports its own; sum them in Prometheus). Labels are
 * fixed words, never user input, codes or tokens.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const m = new Metrics();
 * m.inc("sessions_created");
 * m.render(); // "# HELP mcs_broker_sessions_created_total ...\n..."
 * ```
 * @module
 */

const HELP = {
  sessions_created: "Sessions created by agents.",
  sessions_completed: "Sessions that became ready (form, OAuth or passthrough).",
  sessions_consumed: "Ready sessions handed to their agent (once each).",
  sessions_expired: "Sessions that expired before completing.",
  sessions_denied: "Sessions failed by a denied sign-in or consent.",
  proxy_calls: "Requests relayed by /v1/proxy, by outcome.",
  rate_limited: "Requests refused by a rate limit, by limit.",
  requests: "HTTP requests answered, by status class.",
} as const;

/** A counter name. */
export type Counter = keyof typeof HELP;

/** The counters. */
export class Metrics {
  readonly #values = new Map<string, number>();

  /** Add `by` to a counter (with one optional label). */
  inc(name: Counter, label?: { [k: string]: string }, by = 1): void {
    const key = label
      ? `${name}{${Object.entries(label).map(([k, v]) => `${k}="${v}"`).join(",")}}`
      : name;
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  /** A counter's value (tests). */
  get(name: Counter, label?: { [k: string]: string }): number {
    const key = label
      ? `${name}{${Object.entries(label).map(([k, v]) => `${k}="${v}"`).join(",")}}`
      : name;
    return this.#values.get(key) ?? 0;
  }

  /** Prometheus text format. */
  render(): string {
    const lines: string[] = [];
    for (const [name, help] of Object.entries(HELP)) {
      const metric = `mcs_broker_${name}_total`;
      lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} counter`);
      let any = false;
      for (const [key, value] of this.#values) {
        if (key === name || key.startsWith(`${name}{`)) {
          lines.push(`${metric}${key.slice(name.length)} ${value}`);
          any = true;
        }
      }
      if (!any) lines.push(`${metric} 0`);
    }
    return lines.join("\n") + "\n";
  }
}
