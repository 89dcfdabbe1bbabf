/**
 * The DHCP plugin's in-memory view: the leases, built only from its own events, plus the core's
 * clients (ctx.views.clients: who is approved, and the address each last used). The packet path
 * reads nothing else. Runtime-only state (outstanding offers, lease expiry after renewals) lives
 * here too; bindings and declines are what `snapshot()` keeps.
 */
import type { ClientRecord, PluginEvent } from '../../core/plugin-api';
import type { DHCP_EVENTS } from './dhcp.events';

/**
 * What the view needs of a client: the core's ClientRecord, or a test's stand-in. `model` tells a
 * PC's non-PXE packets apart (pc-detection.ts); `imageId` whether a PC's PXE ROM has anything to boot.
 */
export type DhcpClient = Pick<ClientRecord, 'status' | 'ip'> & Partial<Pick<ClientRecord, 'model' | 'imageId'>>;

/** Looks a client up by MAC (ctx.views.clients, or a Map in tests). */
export interface ClientLookup {
  get(mac: string): DhcpClient | null | undefined;
}

export type DhcpEvent = PluginEvent<typeof DHCP_EVENTS>;

/** What `snapshot()` saves. */
export interface DhcpViewSnapshot {
  bindings: Binding[];
  declined: [string, number][];
}

export interface Binding {
  mac: string;
  ip: string;
  /** ms since epoch; extended by every ACK. */
  expiresAt: number;
}

export interface Offer {
  ip: string;
  /** ms since epoch after which the address may be offered to someone else. */
  until: number;
}

/** How long an offered address stays reserved for the client it was offered to. */
export const OFFER_HOLD_MS = 60_000;
/** How long an address reported in use (DHCPDECLINE) is not handed out. */
export const DECLINE_HOLD_MS = 10 * 60_000;

export class DhcpView {
  /** The core's clients; set at start (before it, only lease events are projected). */
  clients: ClientLookup = new Map<string, DhcpClient>();
  /** Full mode: client MAC → bound address. */
  readonly bindings = new Map<string, Binding>();
  /** Full mode: address → client MAC (the inverse of `bindings`). */
  readonly owners = new Map<string, string>();
  readonly offers = new Map<string, Offer>();
  readonly offeredTo = new Map<string, string>();
  /** Address → ms until which it is not handed out. */
  readonly declined = new Map<string, number>();

  apply(event: DhcpEvent): void {
    const at = Date.parse(event.metadata.timestamp);
    switch (event.type) {
      case 'DhcpLeaseBound':
        // After a restart the last renewal may not be known: count a full extra lease time before
        // the address can be reclaimed, so a client still holding it is never doubled.
        this.bind(event.data.mac, event.data.ip, at + 2 * event.data.leaseSeconds * 1000);
        break;
      case 'DhcpLeaseReleased':
        this.unbind(event.data.mac, event.data.ip);
        break;
      case 'DhcpAddressDeclined':
        this.unbind(event.data.mac, event.data.ip);
        this.declined.set(event.data.ip, at + DECLINE_HOLD_MS);
        break;
      default:
        break;
    }
  }

  snapshot(): DhcpViewSnapshot {
    return { bindings: [...this.bindings.values()], declined: [...this.declined] };
  }

  restore(state: DhcpViewSnapshot): void {
    const ok =
      Array.isArray(state?.bindings) &&
      Array.isArray(state.declined) &&
      state.bindings.every((b) => typeof b?.mac === 'string' && typeof b.ip === 'string' && typeof b.expiresAt === 'number') &&
      state.declined.every((d) => Array.isArray(d) && typeof d[0] === 'string' && typeof d[1] === 'number');
    if (!ok) throw new Error('not a DHCP view snapshot');
    for (const b of state.bindings) this.bind(b.mac, b.ip, b.expiresAt);
    for (const [ip, until] of state.declined) this.declined.set(ip, until);
  }

  /**
   * After the view has caught up at start: renewals are not recorded, so a binding is held for at
   * least one more lease time from now before it can be reclaimed (its Pi may still use it).
   */
  holdAfterRestart(now: number, leaseSeconds: number): void {
    for (const b of this.bindings.values()) b.expiresAt = Math.max(b.expiresAt, now + leaseSeconds * 1000);
  }

  bind(mac: string, ip: string, expiresAt: number): void {
    const previous = this.bindings.get(mac);
    if (previous && previous.ip !== ip && this.owners.get(previous.ip) === mac) this.owners.delete(previous.ip);
    const formerOwner = this.owners.get(ip);
    if (formerOwner && formerOwner !== mac) this.bindings.delete(formerOwner);
    this.bindings.set(mac, { mac, ip, expiresAt });
    this.owners.set(ip, mac);
    this.clearOffer(mac);
  }

  unbind(mac: string, ip: string): void {
    const b = this.bindings.get(mac);
    if (b && b.ip === ip) this.bindings.delete(mac);
    if (this.owners.get(ip) === mac) this.owners.delete(ip);
  }

  offer(mac: string, ip: string, until: number): void {
    this.clearOffer(mac);
    this.offers.set(mac, { ip, until });
    this.offeredTo.set(ip, mac);
  }

  clearOffer(mac: string): void {
    const o = this.offers.get(mac);
    if (!o) return;
    this.offers.delete(mac);
    if (this.offeredTo.get(o.ip) === mac) this.offeredTo.delete(o.ip);
  }
}
