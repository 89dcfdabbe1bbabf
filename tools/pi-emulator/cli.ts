#!/usr/bin/env node
/**
 * The Pi emulator's command line: boots one or more emulated Pis and prints each one's timeline as
 * it happens, then a summary. Exit code 0 when every Pi reached its outcome `booted`, 1 otherwise,
 * 2 on a usage error.
 *
 *   node dist/tools/pi-emulator/cli.js [--netns NS] [--deadline-s 300] [--report-port 6970|0]
 *        [--login USER] (password from $PI_EMULATOR_PASSWORD) [--attempts 3] [--json]
 *        --pi MODEL,MAC,SERIAL,IFACE [--pi ...]
 *
 * MODEL is pi3b, pi4 or pi5; SERIAL 8 hex digits; IFACE the Pi's interface (already up, with MAC).
 * Example, one Pi 4 in namespace lab-pis on interface pi0:
 *   node dist/tools/pi-emulator/cli.js --netns lab-pis --pi pi4,dc:a6:32:00:00:01,1a2b3c4d,pi0
 */
import { bootPis, type EmulatedPi } from './emulator';
import { PI_MODELS, type PiModel } from './profiles';
import { formatEntry, formatSummary } from './timeline';

export interface CliOptions {
  netns: string | null;
  deadlineMs: number;
  reportPort: number | null;
  login: { username: string; password: string } | null;
  attempts: number;
  json: boolean;
  pis: EmulatedPi[];
}

export class UsageError extends Error {}

/** Parses the arguments (pure: the password comes in as a parameter). */
export function parseArgs(argv: string[], password: string | undefined): CliOptions {
  const o: CliOptions = { netns: null, deadlineMs: 300_000, reportPort: 6970, login: null, attempts: 3, json: false, pis: [] };
  const need = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const int = (v: string, flag: string): number => {
    if (!/^\d+$/.test(v)) throw new UsageError(`${flag}: not a whole number: ${v}`);
    return Number(v);
  };
  let login: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') o.json = true;
    else if (a === '--netns') o.netns = need(i++, a);
    else if (a === '--deadline-s') o.deadlineMs = int(need(i++, a), a) * 1000;
    else if (a === '--report-port') o.reportPort = int(need(i++, a), a) || null;
    else if (a === '--attempts') o.attempts = Math.max(1, int(need(i++, a), a));
    else if (a === '--login') login = need(i++, a);
    else if (a === '--pi') {
      const [model, mac, serial, iface] = need(i++, a).split(',');
      if (!PI_MODELS.includes(model as PiModel)) throw new UsageError(`--pi: model must be one of ${PI_MODELS.join(', ')}: ${model}`);
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(mac ?? '')) throw new UsageError(`--pi: not a MAC address: ${mac}`);
      if (!/^[0-9a-f]{1,8}$/i.test(serial ?? '')) throw new UsageError(`--pi: serial must be up to 8 hex digits: ${serial}`);
      if (!iface) throw new UsageError('--pi: MODEL,MAC,SERIAL,IFACE: the interface is missing');
      o.pis.push({
        model: model as PiModel,
        mac: mac.toLowerCase(),
        serial: parseInt(serial, 16),
        interface: iface,
        name: `${model}-${o.pis.length + 1}`,
      });
    } else throw new UsageError(`unknown argument: ${a}`);
  }
  if (o.pis.length === 0) throw new UsageError('at least one --pi MODEL,MAC,SERIAL,IFACE is needed');
  if (login) {
    if (!password) throw new UsageError('--login needs the password in $PI_EMULATOR_PASSWORD');
    o.login = { username: login, password };
  }
  for (const pi of o.pis) {
    pi.login = o.login;
    pi.reportPort = o.reportPort;
    pi.maxAttempts = o.attempts;
  }
  return o;
}

async function main(): Promise<number> {
  let o: CliOptions;
  try {
    o = parseArgs(process.argv.slice(2), process.env.PI_EMULATOR_PASSWORD);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`pi-emulator: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const width = Math.max(...o.pis.map((p) => (p.name ?? p.mac).length));
  const results = await bootPis({
    pis: o.pis,
    netns: o.netns,
    deadlineMs: o.deadlineMs,
    onTimeline: o.json ? undefined : (pi, e) => process.stdout.write(`${formatEntry(pi.name ?? pi.mac, e, width)}\n`),
  });
  if (o.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else process.stdout.write(`\n${formatSummary(results)}\n`);
  return results.every((r) => r.outcome === 'booted') ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => (process.exitCode = code),
    (error: Error) => {
      process.stderr.write(`pi-emulator: ${error.stack ?? error.message}\n`);
      process.exitCode = 1;
    },
  );
}
