/**
 * The DHCP plugin's in-memory view, built only from the events it consumes; the packet path reads
 * nothing else. Runtime-only state (outstanding offers, lease expiry after renewals, recent
 * detections) lives here too and is never persisted.
 */
import type { RecordedEvent } from '../../core/plugin-api/plugin';
import { DhcpEventType } from './dhcp.events';

export type DhcpClientStatus = 'pending' | 'approved' | 'rejected';

export interface DhcpClient {
  mac: string;
  status: DhcpClientStatus;
  /** The address last reported for this client by this plugin (or seen at detection). */
  ip: string | null;
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
  readonly clients = new Map<string, DhcpClient>();
  /** Full mode: client MAC → bound address. */
  readonly bindings = new Map<string, Binding>();
  /** Full mode: address → client MAC (the inverse of `bindings`). */
  readonly owners = new Map<string, string>();
  readonly offers = new Map<string, Offer>();
  readonly offeredTo = new Map<string, string>();
  /** Address → ms until which it is not handed out. */
  readonly declined = new Map<string, number>();

  apply(event: RecordedEvent): void {
    const d = event.data as Record<string, unknown> & { mac: string };
    const at = Date.parse(event.metadata.timestamp);
    switch (event.type) {
      case 'ClientDetected':
        this.clients.set(d.mac, { mac: d.mac, status: 'pending', ip: (d.ip as string | null) ?? null });
        break;
      case 'ClientApproved': {
        const c = this.clients.get(d.mac);
        if (c) c.status = 'approved';
        else this.clients.set(d.mac, { mac: d.mac, status: 'approved', ip: null });
        break;
      }
      case 'ClientRejected': {
        const c = this.clients.get(d.mac);
        if (c) c.status = 'rejected';
        break;
      }
      case 'ClientRemoved':
        this.clients.delete(d.mac);
        break;
      case DhcpEventType.DhcpLeaseBound: {
        const seconds = (d.leaseSeconds as number) ?? 0;
        // After a restart the last renewal may not be known: count a full extra lease time before
        // the address can be reclaimed, so a client still holding it is never doubled.
        this.bind(d.mac, d.ip as string, at + 2 * seconds * 1000);
        break;
      }
      case DhcpEventType.DhcpLeaseReleased:
        this.unbind(d.mac, d.ip as string);
        break;
      case DhcpEventType.DhcpAddressDeclined:
        this.unbind(d.mac, d.ip as string);
        this.declined.set(d.ip as string, at + DECLINE_HOLD_MS);
        break;
    }
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
