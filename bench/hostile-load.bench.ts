/**
 * The API cannot stall the packet path: bramble (real DHCP plugin, full mode, 200 approved Pis, an
 * audit log of `events` events) first without, then under hostile load: 20 GraphQL clients in
 * another process cycling through every class of hostile request (test/support/hostile-clients.ts)
 * for `seconds`, while perfdhcp (ISC Kea) runs DORA exchanges at 100/s and another process polls
 * /health every 25 ms. Target: /health within 200 ms, DHCP p99 under 50 ms, every hostile request
 * answered with a code within 1 s.
 *
 * One line per window (see describeFigures in test/support/hostile-load-lab.ts):
 *   hostile.reference  health_p50_ms health_p99_ms health_max_ms dhcp_offer_p50_ms dhcp_offer_p99_ms
 *                      dhcp_ack_p50_ms dhcp_ack_p99_ms loop_p50_ms loop_p99_ms loop_max_ms
 *   hostile.attack     the same, and hostile_requests hostile_per_s refused_answer_p50/p99/max_ms
 *                      refused_over_1s admitted_answer_p50/max_ms uncoded unexpected_code
 *   hostile.shape.<name> count p99_ms max_ms codes    (one per hostile request shape)
 *
 * Run (root): node <build>/bench/hostile-load.bench.js [events=200000] [seconds=10]
 */
import { canUseNetns } from '../test/support/netlab';
import { describeFigures, startHostileLoadLab } from '../test/support/hostile-load-lab';

async function main(): Promise<void> {
  const skip = canUseNetns();
  if (skip) {
    process.stderr.write(`# skipped: ${skip}\n`);
    return;
  }
  const events = Number(process.argv[2] ?? 200_000);
  const seconds = Number(process.argv[3] ?? 10);
  const t0 = performance.now();
  const l = await startHostileLoadLab({ pis: 200 });
  try {
    await l.seed(events);
    process.stderr.write(`# lab ready: 200 approved Pis, ${events} events seeded (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
    // Warm-up (the first run of any code path is slow in V8), then the windows.
    await l.measure({ seconds: 3, hostileClients: 4, dhcpRate: 50 });
    const reference = await l.measure({ seconds, hostileClients: 0, dhcpRate: 100 });
    process.stdout.write(`${describeFigures('hostile.reference', reference)}\n`);
    const attack = await l.measure({ seconds, hostileClients: 20, dhcpRate: 100 });
    process.stdout.write(`${describeFigures('hostile.attack', attack)}\n`);
    for (const [shape, r] of Object.entries(attack.hostile!.byShape)) {
      const codes = Object.entries(r.codes)
        .map(([c, n]) => `${c}:${n}`)
        .join(',');
      process.stdout.write(
        `hostile.shape.${shape} count=${r.count} p99_ms=${r.p99Ms.toFixed(0)} max_ms=${r.maxMs.toFixed(0)} codes=${codes}\n`,
      );
    }
    if (attack.hostile!.uncoded.length) process.stderr.write(`# uncoded answers: ${JSON.stringify(attack.hostile!.uncoded)}\n`);
    if (attack.hostile!.unexpected.length) process.stderr.write(`# unexpected codes: ${JSON.stringify(attack.hostile!.unexpected)}\n`);
  } finally {
    await l.close();
    process.stderr.write(`# bench took ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
