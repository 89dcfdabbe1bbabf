/**
 * Compares two LDAP servers' answers to the same search (test/support/ldap-test-client.ts), as the
 * conformance test needs them: the result code and matchedDN, the entries as a set of DNs and their
 * order, and per entry the attribute names exactly as written (case included: slapd writes the
 * schema's spelling) with their values as sets. The diagnostic message is free text and is not
 * compared. Each difference is one line naming what differs and both sides' values, so that a test
 * can pin a known difference by its exact text.
 */
import type { SearchAnswer } from './ldap-test-client';

export interface Normalised {
  code: number;
  matchedDN: string;
  dns: string[];
  /** DN → attribute name as written → values, sorted. */
  entries: Map<string, Map<string, string[]>>;
}

/**
 * The answer in comparable form. `drop(dn, attribute)` removes an attribute that must differ (the
 * caller lists each with its reason); values are compared as sets, so they are sorted here.
 */
export function normalise(answer: SearchAnswer, drop: (dn: string, attribute: string) => boolean = () => false): Normalised {
  const entries = new Map<string, Map<string, string[]>>();
  for (const e of answer.entries) {
    const attributes = new Map<string, string[]>();
    for (const a of e.attributes) {
      if (drop(e.dn, a.type)) continue;
      const values = a.values.map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
      // A repeated attribute in one entry is itself a difference worth seeing: keep both.
      const name = attributes.has(a.type) ? `${a.type} (again)` : a.type;
      attributes.set(name, values.sort());
    }
    entries.set(e.dn, attributes);
  }
  return { code: answer.result.code, matchedDN: answer.result.matchedDN, dns: answer.entries.map((e) => e.dn), entries };
}

const show = (v: unknown): string => JSON.stringify(v);

/**
 * Every difference between `actual` (bramble) and `expected` (slapd), one line each. `ordered`:
 * the order of the entries is compared too (after a fresh load, slapd's order is defined by the
 * load; bramble claims the same order).
 */
export function differences(actual: Normalised, expected: Normalised, options: { ordered: boolean }): string[] {
  const out: string[] = [];
  if (actual.code !== expected.code) out.push(`result code: bramble ${actual.code}, slapd ${expected.code}`);
  if (actual.matchedDN !== expected.matchedDN) out.push(`matchedDN: bramble ${show(actual.matchedDN)}, slapd ${show(expected.matchedDN)}`);
  if (actual.dns.length !== new Set(actual.dns).size) out.push(`bramble returned an entry twice: ${show(actual.dns)}`);
  const actualSet = new Set(actual.dns);
  const expectedSet = new Set(expected.dns);
  for (const dn of expected.dns) if (!actualSet.has(dn)) out.push(`entry only from slapd: ${dn}`);
  for (const dn of actual.dns) if (!expectedSet.has(dn)) out.push(`entry only from bramble: ${dn}`);
  if (
    options.ordered &&
    out.length === 0 &&
    actual.dns.length === expected.dns.length &&
    actual.dns.some((dn, i) => dn !== expected.dns[i])
  ) {
    out.push(`order: bramble ${show(actual.dns)}, slapd ${show(expected.dns)}`);
  }
  for (const [dn, want] of expected.entries) {
    const got = actual.entries.get(dn);
    if (!got) continue;
    for (const [name, values] of want) {
      const mine = got.get(name);
      if (!mine) {
        const other = [...got.keys()].find((n) => n.toLowerCase() === name.toLowerCase());
        out.push(`${dn}: ${name} only from slapd${other ? ` (bramble wrote ${other})` : ''}: ${show(values)}`);
      } else if (show(mine) !== show(values)) {
        out.push(`${dn}: ${name}: bramble ${show(mine)}, slapd ${show(values)}`);
      }
    }
    for (const [name, values] of got) {
      if (!want.has(name) && ![...want.keys()].some((n) => n.toLowerCase() === name.toLowerCase())) {
        out.push(`${dn}: ${name} only from bramble: ${show(values)}`);
      }
    }
  }
  return out;
}

/**
 * ldapsearch's answer (`-LLL -o ldif_wrap=no`: entries only, one line per value) as a SearchAnswer:
 * its exit code is the LDAP result code, and it prints the matched DN on stderr. Values written in
 * base64 (`name:: ...`) are decoded; comment lines (`# pagedresults: cookie=...`, which -LLL still
 * prints for paged searches) are skipped.
 */
export function answerFromLdapsearch(run: { code: number | null; stdout: string; stderr: string }): SearchAnswer {
  const entries: SearchAnswer['entries'] = [];
  for (const record of run.stdout.split(/\n\n+/)) {
    const lines = record.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    if (lines.length === 0) continue;
    const pairs = lines.map((line) => {
      const m = /^([^:]+)(::?) ?(.*)$/.exec(line);
      if (!m) throw new Error(`ldapsearch output: not an LDIF line: ${line}`);
      return [m[1], m[2] === '::' ? Buffer.from(m[3], 'base64').toString('utf8') : m[3]] as const;
    });
    if (pairs[0][0] !== 'dn') throw new Error(`ldapsearch output: a record without dn: ${lines[0]}`);
    const attributes: { type: string; values: string[] }[] = [];
    for (const [type, value] of pairs.slice(1)) {
      const last = attributes[attributes.length - 1];
      if (last?.type === type) last.values.push(value);
      else attributes.push({ type, values: [value] });
    }
    entries.push({ dn: pairs[0][1], attributes });
  }
  const matchedDN = /^\s*Matched DN: (.*)$/m.exec(run.stderr)?.[1] ?? '';
  return { entries, result: { code: (run.code ?? -1) as SearchAnswer['result']['code'], matchedDN, message: '' }, controls: [] };
}
