/**
 * Label listing and name ↔ id resolution, so users say "Receipts" instead of "Label_42".
 * The label list is cached in memory for the process and, optionally, in a {@link CacheStore}
 * across processes (short TTL); an unknown name or id triggers one fresh listing before failing.
 *
 * @example
 * ```ts
 * import { LabelResolver } from "./labels.ts";
 * declare const resolver: LabelResolver;
 * const ids = await resolver.idsFor(["Receipts", "starred"]); // ["Label_3", "STARRED"]
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import type { CacheStore } from "../cache/types.ts";
import type { GmailHttp } from "./http.ts";
import { OPS } from "./scopes.ts";
import { isSystemLabel, SYSTEM_LABELS } from "./system_labels.ts";
import type { GmailLabel, GmailLabelList, GmailRequest, Label } from "./types.ts";

/** Options of {@link LabelResolver}. */
export interface LabelResolverOptions {
  cache?: CacheStore;
  /** Cache key (namespace it per account), default `gmail/labels`. */
  cacheKey?: string;
  /** Cache TTL, ms (default 10 minutes). */
  ttlMs?: number;
  now?: () => number;
}

function toLabel(l: GmailLabel): Label {
  const out: Label = {
    id: l.id,
    name: l.name,
    type: l.type ?? (isSystemLabel(l.id) ? "system" : "user"),
  };
  if (l.messagesTotal !== undefined) out.messagesTotal = l.messagesTotal;
  if (l.messagesUnread !== undefined) out.messagesUnread = l.messagesUnread;
  return out;
}

/** Resolves label names and ids with caching. */
export class LabelResolver {
  #http: GmailHttp;
  #o: LabelResolverOptions;
  #labels?: Label[];
  #fresh = false;

  constructor(http: GmailHttp, options: LabelResolverOptions = {}) {
    this.#http = http;
    this.#o = options;
  }

  get #key(): string {
    return this.#o.cacheKey ?? "gmail/labels";
  }

  /** All labels (memory, then cache store, then the API). */
  async list(): Promise<Label[]> {
    if (this.#labels) return this.#labels;
    const cached = await this.#o.cache?.get<Label[]>(this.#key);
    if (cached) return (this.#labels = cached);
    return await this.refresh();
  }

  /** Fetch the list from Gmail and update the caches. */
  async refresh(): Promise<Label[]> {
    const res = await this.#http.call<GmailLabelList>({
      path: "labels",
      op: OPS.listLabels,
    });
    this.#labels = (res.labels ?? []).map(toLabel);
    this.#fresh = true;
    await this.#o.cache?.set(this.#key, this.#labels, {
      expiresAt: (this.#o.now ?? Date.now)() + (this.#o.ttlMs ?? 600_000),
    });
    return this.#labels;
  }

  #find(labels: Label[], nameOrId: string): Label | undefined {
    const want = nameOrId.trim().toLowerCase();
    return labels.find((l) => l.name.toLowerCase() === want) ??
      labels.find((l) => l.id.toLowerCase() === want);
  }

  /**
   * Resolve a label name (case-insensitive), a system label name, or an id to an id.
   * @throws {UsageError} `label_not_found` listing what exists.
   */
  async idFor(nameOrId: string): Promise<string> {
    const sys = SYSTEM_LABELS.find((s) => s.toLowerCase() === nameOrId.trim().toLowerCase());
    if (sys) return sys;
    let hit = this.#find(await this.list(), nameOrId);
    if (!hit && !this.#fresh) hit = this.#find(await this.refresh(), nameOrId);
    if (!hit) {
      const names = (this.#labels ?? []).filter((l) => l.type === "user").map((l) => l.name);
      throw new UsageError(
        "label_not_found",
        `No Gmail label named "${nameOrId}". User labels: ${
          names.join(", ") || "(none)"
        }; system labels: ${SYSTEM_LABELS.join(", ")}.`,
        { details: { label: nameOrId } },
      );
    }
    return hit.id;
  }

  /** Resolve several names. */
  async idsFor(names: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    for (const n of names) out.push(await this.idFor(n));
    return out;
  }

  /** Map ids to names; unknown ids (after one refresh) are returned as-is. */
  async namesFor(ids: readonly string[]): Promise<string[]> {
    if (ids.every(isSystemLabel)) return [...ids];
    let labels = await this.list();
    if (
      !this.#fresh &&
      ids.some((id) => !isSystemLabel(id) && !labels.some((l) => l.id === id))
    ) {
      labels = await this.refresh();
    }
    return ids.map((id) => labels.find((l) => l.id === id)?.name ?? id);
  }

  /** Create a user label (and add it to the cache). */
  async create(name: string): Promise<Label> {
    if (!name.trim() || /[\r\n]/.test(name)) {
      throw new UsageError("invalid_label_name", "A label name must be a non-empty single line.");
    }
    const created = await this.#http.call<GmailLabel>({
      path: "labels",
      json: {
        name,
        labelListVisibility: "labelShow",
        messageListVisibility: "show",
      } satisfies GmailRequest["label"],
      op: OPS.createLabel,
    });
    const label = toLabel({ ...created, type: "user" });
    const labels = [...(await this.list()), label];
    this.#labels = labels;
    await this.#o.cache?.set(this.#key, labels, {
      expiresAt: (this.#o.now ?? Date.now)() + (this.#o.ttlMs ?? 600_000),
    });
    return label;
  }
}
