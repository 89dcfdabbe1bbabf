/**
 * Failed binds slow down further binds, per user and per source address, so that a classroom
 * cannot guess a teacher's password: pure, time comes in as `now` (ms).
 *
 * Each key (a user name, an address) counts its failures. The first FREE_FAILURES cost nothing
 * (typos); after that, the next bind on that key is checked no earlier than
 * `lastFailure + BASE_DELAY_MS × 2^(failures − FREE_FAILURES)`, capped at MAX_DELAY_MS. A bind
 * arriving sooner is not refused (refusing would let anyone lock a teacher out by failing on
 * purpose): it waits, and its answer comes later. So guesses against one user, from any number of
 * connections and machines, run at most about one per MAX_DELAY_MS once the delay is at its cap;
 * guesses from one address likewise, whatever user they try. A success clears the user's count and
 * the address's; a key forgets its failures FORGET_AFTER_MS after the last one.
 *
 * The server checks binds of one user one at a time; binds from one address side by side until the
 * address has FREE_FAILURES failures, then one at a time too (so parallel connections
 * gain an attacker nothing). It also bounds how many binds may wait per address
 * (MAX_WAITING_PER_ADDRESS, the default connection cap per address): beyond that a bind is
 * answered `busy` at once, so a flood cannot pile up timers and memory.
 */

export const FREE_FAILURES = 3;
export const BASE_DELAY_MS = 1000;
export const MAX_DELAY_MS = 60_000;
export const FORGET_AFTER_MS = 15 * 60_000;
export const MAX_WAITING_PER_ADDRESS = 64;
/** Keys kept at most; the oldest are dropped beyond it (a scan of random user names cannot grow memory). */
export const MAX_KEYS = 100_000;

interface KeyState {
  failures: number;
  lastFailure: number;
}

export interface ThrottleDecision {
  /** Milliseconds to wait before checking the password (0: now). */
  waitMs: number;
  /** Failures counted on the user and on the address when the bind came. */
  userFailures: number;
  addressFailures: number;
}

export function delayAfter(failures: number): number {
  if (failures < FREE_FAILURES) return 0;
  return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (failures - FREE_FAILURES));
}

export class BindThrottle {
  private readonly keys = new Map<string, KeyState>();

  /** When a bind for `user` from `address` may be checked. */
  admit(user: string, address: string, now: number): ThrottleDecision {
    const u = this.current(`u:${user}`, now);
    const a = this.current(`a:${address}`, now);
    const until = Math.max(u ? u.lastFailure + delayAfter(u.failures) : 0, a ? a.lastFailure + delayAfter(a.failures) : 0);
    return { waitMs: Math.max(0, until - now), userFailures: u?.failures ?? 0, addressFailures: a?.failures ?? 0 };
  }

  /** Failures counted on `address` now (0 once forgotten). */
  addressFailures(address: string, now: number): number {
    return this.current(`a:${address}`, now)?.failures ?? 0;
  }

  /** Records the outcome of a checked bind. */
  record(user: string, address: string, ok: boolean, now: number): void {
    if (ok) {
      // The address's count too: a Pi where a pupil mistyped is not slowed for the next pupil once
      // someone logged in. The price: someone with an account of their own can clear their
      // address's count between guesses at other users; each of those users still has its own
      // count, which only that user's own success clears.
      this.keys.delete(`u:${user}`);
      this.keys.delete(`a:${address}`);
      return;
    }
    for (const key of [`u:${user}`, `a:${address}`]) {
      const state = this.current(key, now);
      this.keys.delete(key); // re-inserted last: the Map's order is the eviction order
      this.keys.set(key, { failures: (state?.failures ?? 0) + 1, lastFailure: now });
    }
    while (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
  }

  get size(): number {
    return this.keys.size;
  }

  private current(key: string, now: number): KeyState | null {
    const state = this.keys.get(key);
    if (!state) return null;
    if (now - state.lastFailure >= FORGET_AFTER_MS) {
      this.keys.delete(key);
      return null;
    }
    return state;
  }
}
