/**
 * "No request can stall bramble": bramble with its real DHCP plugin (full mode) serves a namespaced
 * LAN while 20 clients (another process) send every class of hostile GraphQL request for 10 s —
 * nested fragments, alias floods of health and stateAt, huge pages, huge documents, deep nesting,
 * big variables, repeated fields, bad values, no token, over HTTP and WebSocket — and requests at
 * the edge of the limits that are admitted (a page of 1000 events, a replay of the log). Meanwhile
 * perfdhcp (ISC Kea) runs DORA exchanges for approved Pis and another process polls /health.
 *
 * Target: /health answers within 200 ms, the DHCP p99 reply latency stays under 50 ms, every
 * hostile request gets an error with a code (the one its class expects) within a second, and
 * bramble is fine afterwards. bramble's event-loop delay is measured too.
 *
 * The machine may be shared with other builds (and npm test runs two test files at once): when the
 * figures miss the target, the 10 s run is repeated once and the repeat decides (both are
 * printed), as bench/dhcp.bench.ts does.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { dhcpLabUnavailable } from '../support/dhcp-lab';
import { describeFigures, startHostileLoadLab, type HostileLoadLab, type LoadFigures } from '../support/hostile-load-lab';

const skip =
  dhcpLabUnavailable() ?? (['/usr/sbin/perfdhcp', '/usr/bin/perfdhcp'].some(existsSync) ? null : 'perfdhcp (kea-admin) is missing');

const TARGET = { healthMaxMs: 200, dhcpP99Ms: 50, refusedAnswerMs: 1000 };

function missed(f: LoadFigures): string[] {
  const out: string[] = [];
  if (f.health.failures > 0) out.push(`${f.health.failures} /health polls failed`);
  if (!(f.health.ms.max <= TARGET.healthMaxMs)) out.push(`/health took up to ${f.health.ms.max.toFixed(0)} ms`);
  if (f.dhcp.drops > 0) out.push(`${f.dhcp.drops} DHCP exchanges dropped`);
  for (const [what, p99] of [
    ['OFFER', f.dhcp.offerP99Ms],
    ['ACK', f.dhcp.ackP99Ms],
  ] as const) {
    if (p99 === null || !(p99 < TARGET.dhcpP99Ms)) out.push(`DHCP ${what} p99 ${p99 === null ? 'n/a' : p99.toFixed(1)} ms`);
  }
  if (f.hostile && f.hostile.slowCount > 0)
    out.push(`${f.hostile.slowCount} refused requests answered after 1 s or more (max ${f.hostile.answerMs.max.toFixed(0)} ms)`);
  if (!(f.loop.p99Ms < TARGET.dhcpP99Ms) || !(f.loop.maxMs < TARGET.healthMaxMs))
    out.push(`event-loop delay p99 ${f.loop.p99Ms.toFixed(1)} ms, max ${f.loop.maxMs.toFixed(1)} ms`);
  return out;
}

describe('hostile load: DHCP and /health stay fast while 20 clients attack the GraphQL API', { skip: skip ?? false }, () => {
  let l: HostileLoadLab;

  before(async () => {
    l = await startHostileLoadLab({ pis: 100 });
    // An audit log to page through and replay.
    await l.seed(20_000);
    // Warm-up: every code path once (the first run of anything is slow in V8).
    await l.measure({ seconds: 2, hostileClients: 4, dhcpRate: 20 });
  });
  after(async () => {
    await l?.close();
  });

  it('/health ≤ 200 ms and DHCP p99 < 50 ms under 10 s of hostile queries; every hostile answer coded, within 1 s', async (t) => {
    const reference = await l.measure({ seconds: 3, hostileClients: 0, dhcpRate: 50 });
    t.diagnostic(describeFigures('reference (no hostile load)', reference));
    let hostile = await l.measure({ seconds: 10, hostileClients: 20, dhcpRate: 50 });
    t.diagnostic(describeFigures('hostile load', hostile));
    if (missed(hostile).length > 0) {
      t.diagnostic(`missed the target (${missed(hostile).join('; ')}): once more, the repeat decides`);
      hostile = await l.measure({ seconds: 10, hostileClients: 20, dhcpRate: 50 });
      t.diagnostic(describeFigures('hostile load, again', hostile));
    }
    const report = hostile.hostile!;
    for (const [shape, r] of Object.entries(report.byShape)) {
      t.diagnostic(
        `  ${shape}: ${r.count} answers, p99 ${r.p99Ms.toFixed(0)} ms, max ${r.maxMs.toFixed(0)} ms, ${JSON.stringify(r.codes)}`,
      );
    }

    assert.deepEqual(missed(hostile), []);
    assert.ok(report.requests >= 200, `only ${report.requests} hostile requests were answered in 10 s`);
    assert.equal(report.uncodedCount, 0, `answers without a code: ${JSON.stringify(report.uncoded)}`);
    assert.equal(report.unexpectedCount, 0, `answers with another code than their class's: ${JSON.stringify(report.unexpected)}`);
    assert.equal(
      report.slowCount,
      0,
      `refused requests answered after ${TARGET.refusedAnswerMs} ms or more: max ${report.answerMs.max.toFixed(0)} ms`,
    );
    for (const [shape, r] of Object.entries(report.byShape)) assert.ok(r.count > 0, `${shape} was never sent`);
    // The loop never stalled for long (monitorEventLoopDelay, in bramble's process).
    assert.ok(hostile.loop.p99Ms < TARGET.dhcpP99Ms, `event-loop delay p99 ${hostile.loop.p99Ms.toFixed(1)} ms`);
    assert.ok(hostile.loop.maxMs < TARGET.healthMaxMs, `event-loop delay max ${hostile.loop.maxMs.toFixed(1)} ms`);

    // bramble is fine afterwards: the API answers, /health is ok, Pis still get their leases.
    const res = (await (await fetch(`${l.url}/health`)).json()) as { status: string };
    assert.equal(res.status, 'ok');
    const users = await l.lab.graphql<{ groups: Array<{ name: string }> }>('{ groups { name } }');
    assert.deepEqual(users.data?.groups.map((g) => g.name).sort(), ['pupils', 'teachers']);
    const after = await l.measure({ seconds: 2, hostileClients: 0, dhcpRate: 50 });
    assert.equal(after.dhcp.drops, 0);
    assert.ok(after.dhcp.exchanges >= 90, `${after.dhcp.exchanges} exchanges after the attack`);
  });
});
