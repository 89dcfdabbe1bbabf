/**
 * The LDAP plugin's part of `diagnose(mac)` (ctx.diagnostics.provide): logins that fail from a
 * client's address, and TLS handshakes that fail from it.
 *
 * A Pi that boots but where nobody can log in is the complaint that reaches the admin last, and
 * the cause is rarely a password: a Pi has no real-time clock, so until NTP answers its clock is
 * wherever the image left it, and a certificate "not yet valid" fails every StartTLS (nslcd's
 * `tls_reqcert demand`); or the image was converted before bramble's CA changed.
 * (docs/pi-netboot-protocol.md §6, "Login fails only on some Pis".)
 *
 * Pure, with `LdapNotes` keeping per-address counts (bounded, forgotten after FORGET_MS).
 */
import type { DiagnosisFinding } from '../../core/plugin-api';

const FORGET_MS = 30 * 60_000;
const MAX_ADDRESSES = 10_000;

export interface AddressNote {
  failedBinds: number;
  lastFailedBindAt: number;
  tlsFailures: number;
  lastTlsFailureAt: number;
  lastTlsReason: string | null;
  /** The last successful bind: a client whose logins work now needs no warning about old failures. */
  lastLoginAt: number;
}

export class LdapNotes {
  private readonly notes = new Map<string, AddressNote>();

  private note(address: string, now: number): AddressNote {
    let n = this.notes.get(address);
    if (n && now - Math.max(n.lastFailedBindAt, n.lastTlsFailureAt, n.lastLoginAt) > FORGET_MS) n = undefined;
    if (n) this.notes.delete(address);
    n ??= { failedBinds: 0, lastFailedBindAt: 0, tlsFailures: 0, lastTlsFailureAt: 0, lastTlsReason: null, lastLoginAt: 0 };
    this.notes.set(address, n);
    if (this.notes.size > MAX_ADDRESSES) this.notes.delete(this.notes.keys().next().value!);
    return n;
  }

  bindFailed(address: string, now: number): void {
    const n = this.note(address, now);
    n.failedBinds++;
    n.lastFailedBindAt = now;
  }

  loggedIn(address: string, now: number): void {
    this.note(address, now).lastLoginAt = now;
  }

  tlsFailed(address: string, reason: string, now: number): void {
    const n = this.note(address, now);
    n.tlsFailures++;
    n.lastTlsFailureAt = now;
    n.lastTlsReason = reason;
  }

  get(address: string, now: number): AddressNote | null {
    const n = this.notes.get(address);
    if (!n || now - Math.max(n.lastFailedBindAt, n.lastTlsFailureAt, n.lastLoginAt) > FORGET_MS) return null;
    return { ...n };
  }
}

const minutesAgo = (now: number, at: number): string => {
  const m = Math.round((now - at) / 60_000);
  return m < 1 ? 'under a minute ago' : `${m} min ago`;
};

export function ldapFindings(note: AddressNote | null, address: string | null, now: number): DiagnosisFinding[] {
  if (!note || !address) return [];
  const findings: DiagnosisFinding[] = [];
  if (note.tlsFailures > 0 && note.lastTlsFailureAt > note.lastLoginAt) {
    findings.push({
      code: 'LDAP_TLS_FAILING',
      severity: 'error',
      message:
        `${note.tlsFailures} TLS handshake(s) from ${address} to the directory failed (last ${minutesAgo(now, note.lastTlsFailureAt)}, ${note.lastTlsReason ?? 'handshake'}): ` +
        'nobody can log in on it. A Pi has no battery clock: check that it reaches an NTP server (a clock before the certificate\u2019s start fails every check), ' +
        'and that its image was converted after bramble\u2019s CA was made (convert it again).',
    });
  }
  if (note.failedBinds > 0 && note.lastFailedBindAt > note.lastLoginAt) {
    findings.push({
      code: 'LDAP_LOGINS_FAILING',
      severity: 'warning',
      message:
        `${note.failedBinds} login(s) from ${address} failed (last ${minutesAgo(now, note.lastFailedBindAt)}) and none has worked since: ` +
        'a wrong password, or a user that does not exist or is disabled. Repeated failures slow further attempts (the bind throttle), they never lock a user out.',
    });
  }
  return findings;
}
