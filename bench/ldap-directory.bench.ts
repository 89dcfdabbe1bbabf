/**
 * The LDAP directory alone, in-process (no codec, no sockets): searches per second for nslcd's
 * lookups over 5,000 users and 500 groups. This is the directory's share of the server's budget
 * (the target, ≥ 0.7× slapd's searches/s over 30 connections, is measured end to end by the
 * server's bench); the figure shows how much room the codec and the socket loop have.
 *   node dist/bench/ldap-directory.bench.js [users=5000] [seconds=2]
 */
import type { UserRecord } from '../src/core/plugin-api';
import { Directory } from '../src/plugins/ldap/ldap.directory';
import type { Filter, SearchRequest } from '../src/plugins/ldap/ldap.types';
import { note, print } from './support/report';

/** The attributes nslcd 0.9 asks for a passwd lookup (its default map). */
const PASSWD_ATTRIBUTES = ['uid', 'userPassword', 'uidNumber', 'gidNumber', 'gecos', 'cn', 'homeDirectory', 'loginShell', 'objectClass'];
const GROUP_ATTRIBUTES = ['cn', 'userPassword', 'memberUid', 'gidNumber', 'member'];

function request(filter: Filter, attributes: string[]): SearchRequest {
  return {
    op: 'search',
    messageId: 1,
    controls: [],
    baseObject: 'dc=bramble,dc=local',
    scope: 'sub',
    derefAliases: 0,
    sizeLimit: 0,
    timeLimit: 0,
    typesOnly: false,
    filter,
    attributes,
  };
}

const and = (a: Filter, b: Filter): Filter => ({ type: 'and', filters: [a, b] });
const eq = (attribute: string, value: string): Filter => ({ type: 'equality', attribute, value });

/** Runs `search` with fresh arguments for `seconds`; searches per second. Bounded by time and by 50 million calls. */
function measure(seconds: number, search: (i: number) => number): { rate: number; entriesPerSearch: number } {
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let n = 0;
  let entries = 0;
  while (n < 50_000_000) {
    for (let k = 0; k < 16; k++) entries += search(n++);
    if (process.hrtime.bigint() >= end) break;
  }
  return { rate: n / (Number(process.hrtime.bigint() - start) / 1e9), entriesPerSearch: entries / n };
}

function main(): void {
  const users = Number(process.argv[2] ?? 5000);
  const seconds = Number(process.argv[3] ?? 2);
  const directory = new Directory({ baseDn: 'dc=bramble,dc=local', anonymousRead: true });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < users; i++) {
    const u: UserRecord = {
      username: `pupil${i}`,
      uidNumber: 10000 + i,
      gidNumber: 100,
      fullName: `Pupil Number ${i}`,
      groups: [],
      enabled: true,
      passwordHash: '{CRYPT}$2y$10$abcdefghijklmnopqrstuuVWXYZabcdefghijklmnopqrstuvwxyz0',
      createdAt: '2025-01-01T00:00:00Z',
      updatedAt: '2025-01-01T00:00:00Z',
    };
    directory.setUser(u);
  }
  const groups = Math.max(1, Math.floor(users / 10));
  for (let g = 0; g < groups; g++) {
    const members = Array.from({ length: 10 }, (_, k) => `pupil${g * 10 + k}`);
    directory.setGroup({ name: `class${g}`, gidNumber: 20000 + g, members, createdAt: '2025-01-01T00:00:00Z' });
  }
  note(`${directory.entryCount} entries built in ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(0)} ms`);
  const who = { dn: null };

  const byName = measure(seconds, (i) => {
    const name = `pupil${(i * 7919) % users}`;
    return directory.search(request(and(eq('objectClass', 'posixAccount'), eq('uid', name)), PASSWD_ATTRIBUTES), who).entries.length;
  });
  print('ldap_directory.passwd_by_name', { users, searches_per_s: Math.round(byName.rate), entries_per_search: byName.entriesPerSearch });

  const byUid = measure(seconds, (i) => {
    const uid = String(10000 + ((i * 7919) % users));
    return directory.search(request(and(eq('objectClass', 'posixAccount'), eq('uidNumber', uid)), PASSWD_ATTRIBUTES), who).entries.length;
  });
  print('ldap_directory.passwd_by_uid', { users, searches_per_s: Math.round(byUid.rate), entries_per_search: byUid.entriesPerSearch });

  const groupsOf = measure(seconds, (i) => {
    const name = `pupil${(i * 7919) % users}`;
    return directory.search(request(and(eq('objectClass', 'posixGroup'), eq('memberUid', name)), GROUP_ATTRIBUTES), who).entries.length;
  });
  print('ldap_directory.groups_of_user', {
    users,
    searches_per_s: Math.round(groupsOf.rate),
    entries_per_search: groupsOf.entriesPerSearch,
  });

  const all = measure(
    Math.min(seconds, 1),
    () => directory.search(request(eq('objectClass', 'posixAccount'), PASSWD_ATTRIBUTES), who, { maxSizeLimit: 0 }).entries.length,
  );
  print('ldap_directory.enumerate_passwd', {
    users,
    searches_per_s: Number(all.rate.toFixed(1)),
    entries_per_search: all.entriesPerSearch,
  });
}

main();
