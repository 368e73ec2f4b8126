/**
 * The production broker's state on the {@link CacheStore} port, so that sessions survive a
 * restart (a {@link FileCacheStore} in `MCS_BROKER_STATE_DIR`) and replicas share them (any
 * store whose `update` is atomic across processes, e.g. the Redis store).
 *
 * Design:
 * - Every state transition is one `store.update` on the session's key: a read-modify-write under
 *   the store's lock. Ready-once consumption is therefore atomic across replicas: of two
 *   concurrent polls, exactly one sees `ready` and takes the ciphertext (closes hole 17).
 * - Keys (under `broker/`): `session/<id>` (the session; the store entry lives until
 *   `expires_at + grace` so that the sweep can count it as expired, but the broker treats it as
 *   gone at `expires_at`), `state/<oauth state>` and `custom/<sha256 custom_state>` (look-ups
 *   of the OAuth callback), `rl/<bucket>` (rate-limit windows), `ticket/<sha256 ticket>` (the
 *   lifetime of an Auth0 connect ticket seen through `/v1/proxy`).
 * - Rate limits are fixed windows counted in the store by `update`, so every replica sees the same
 *   counts and parallel requests on several replicas cannot overshoot a limit: a guess is counted
 *   before it is looked up (a reservation, taken back when the code was right).
 * - Secrets in the store: the session row carries its tokens as LinkAuth's does; the state
 *   directory is `0700` with `0600` files (the file store's guarantees).
 *
 * @example
 * ```ts
 * import { MemoryCacheStore } from "../cache/memory.ts";
 * import { BrokerState } from "./state.ts";
 * const state = new BrokerState(new MemoryCacheStore(), { now: Date.now, cleanupMs: 60_000 });
 * const hit = await state.hit("addr:203.0.113.9", 10, 60_000); // { limited: false }
 * ```
 * @module
 */
import type { CacheStore } from "../cache/types.ts";
import { type Session, sha256hex } from "./session.ts";

const P = "broker/";
/** How long an expired session's entry is kept for the sweep to count it. */
const GRACE_MS = 10 * 60_000;

/** The outcome of one transition: the session to write (or `null` to delete) and a result. */
export interface Transition<R> {
  /** The new session; `undefined`: leave unchanged; `null`: delete it. */
  session?: Session | null;
  result: R;
}

/** The broker's state. */
export class BrokerState {
  readonly store: CacheStore;
  readonly #now: () => number;
  readonly #cleanupMs: number;

  constructor(store: CacheStore, o: { now: () => number; cleanupMs: number }) {
    this.store = store;
    this.#now = o.now;
    this.#cleanupMs = o.cleanupMs;
  }

  /** Whether `s` is still visible: not past `expires_at`, not consumed longer than cleanup. */
  visible(s: Session | undefined): boolean {
    if (!s) return false;
    const t = this.#now();
    return s.expiresAt > t && !(s.consumedAt !== undefined && s.consumedAt + this.#cleanupMs <= t);
  }

  #entryExpiry(s: Session): number {
    const end = s.consumedAt !== undefined
      ? Math.min(s.expiresAt, s.consumedAt + this.#cleanupMs)
      : s.expiresAt;
    return end + GRACE_MS;
  }

  /** A visible session by id. */
  async get(id: string): Promise<Session | undefined> {
    if (!/^[0-9a-f]{64}$/.test(id)) return undefined;
    const s = await this.store.get<Session>(`${P}session/${id}`);
    return s && this.visible(s) ? s : undefined;
  }

  /** Store a new session; `false` when its id is taken by a visible session. */
  async add(s: Session): Promise<boolean> {
    return await this.transact(s.sessionId, (cur) => ({
      session: cur ? undefined : s,
      result: !cur,
    }));
  }

  /**
   * Reserve a passthrough `custom_state` for session `id` of API key `apiKey` (a hash):
   * `false` while a live, unfinished session of another key holds it (closes hole 8's
   * "newest session wins" capture of another agent's callback). The same key may take it over
   * (an agent starting the same consent again), and a failed or consumed session lets it go.
   */
  async claimCustomState(
    state: string,
    id: string,
    expiresAt: number,
    apiKey: string | undefined,
  ): Promise<boolean> {
    let ok = false;
    await this.store.update<string>(`${P}custom/${await sha256hex(state)}`, async (cur) => {
      const holder = cur ? await this.get(cur) : undefined;
      ok = !holder || holder.apiKey === apiKey || holder.status === "failed" ||
        holder.status === "consumed";
      return ok ? { value: id, expiresAt } : { value: cur, expiresAt: holder!.expiresAt };
    });
    return ok;
  }

  /**
   * One atomic transition of a session: `fn` sees the visible session (or `undefined`) and
   * returns what to write and what to answer. Runs under the store's lock.
   */
  async transact<R>(
    id: string,
    fn: (s: Session | undefined) => Transition<R> | Promise<Transition<R>>,
  ): Promise<R> {
    let result!: R;
    await this.store.update<Session>(`${P}session/${id}`, async (cur) => {
      const out = await fn(this.visible(cur) ? cur : undefined);
      result = out.result;
      const next = out.session === undefined ? cur : out.session ?? undefined;
      return next ? { value: next, expiresAt: this.#entryExpiry(next) } : { value: undefined };
    });
    return result;
  }

  /** Remember which session an OAuth `state` belongs to. */
  async bindState(state: string, id: string, expiresAt: number): Promise<void> {
    await this.store.set(`${P}state/${await sha256hex(state)}`, id, { expiresAt });
  }

  /** The session id of an OAuth `state`, taken: a state works once. */
  async takeState(state: string): Promise<string | undefined> {
    let id: string | undefined;
    await this.store.update<string>(`${P}state/${await sha256hex(state)}`, (cur) => {
      id = cur;
      return { value: undefined };
    });
    return id;
  }

  /** The session id of an OAuth `state`, left in place (a look-up before the checks). */
  async peekState(state: string): Promise<string | undefined> {
    return await this.store.get<string>(`${P}state/${await sha256hex(state)}`);
  }

  /** The session holding this passthrough `custom_state`. */
  async byCustomState(state: string): Promise<string | undefined> {
    return await this.store.get<string>(`${P}custom/${await sha256hex(state)}`);
  }

  /**
   * Count one event in a fixed window; `limited` once more than `limit` happened in it, with the
   * seconds until the window ends.
   */
  async hit(
    bucket: string,
    limit: number,
    windowMs: number,
  ): Promise<{ limited: boolean; retryAfterS: number }> {
    const t = this.#now();
    let w!: { start: number; n: number };
    await this.store.update<{ start: number; n: number }>(await this.#rl(bucket), (cur) => {
      w = cur && t - cur.start < windowMs ? { start: cur.start, n: cur.n + 1 } : { start: t, n: 1 };
      return { value: w, expiresAt: w.start + windowMs };
    });
    return { limited: w.n > limit, retryAfterS: this.#retryAfter(w.start + windowMs) };
  }

  /**
   * Take back one event counted by {@link hit} in the current window (a reservation that turned
   * out not to count, e.g. a code look-up that found its session).
   */
  async unhit(bucket: string, windowMs: number): Promise<void> {
    const t = this.#now();
    await this.store.update<{ start: number; n: number }>(
      await this.#rl(bucket),
      (cur) =>
        cur && t - cur.start < windowMs
          ? {
            value: { start: cur.start, n: Math.max(0, cur.n - 1) },
            expiresAt: cur.start + windowMs,
          }
          : { value: cur, expiresAt: cur ? cur.start + windowMs : undefined },
    );
  }

  #retryAfter(end: number): number {
    return Math.max(1, Math.ceil((end - this.#now()) / 1000));
  }

  async #rl(bucket: string): Promise<string> {
    return `${P}rl/${await sha256hex(bucket)}`;
  }

  /** Record an Auth0 connect ticket's end of life (seen in a `/v1/proxy` answer). */
  async recordTicket(ticket: string, expiresAt: number): Promise<void> {
    await this.store.set(`${P}ticket/${await sha256hex(ticket)}`, expiresAt, { expiresAt });
  }

  /** A connect ticket's recorded end of life. */
  async ticketExpiry(ticket: string): Promise<number | undefined> {
    return await this.store.get<number>(`${P}ticket/${await sha256hex(ticket)}`);
  }

  /**
   * Drop sessions past their end; returns how many expired unfinished (never `ready` or
   * consumed). Each is removed in its own transition, so replicas count each once.
   */
  async sweep(): Promise<number> {
    let expired = 0;
    for (const key of await this.store.keys(`${P}session/`)) {
      await this.store.update<Session>(key, (cur) => {
        if (!cur || this.visible(cur)) {
          return cur ? { value: cur, expiresAt: this.#entryExpiry(cur) } : { value: undefined };
        }
        if (cur.status === "pending" || cur.status === "confirmed") expired++;
        return { value: undefined };
      });
    }
    return expired;
  }
}
