#!/usr/bin/env node
// Runs every compiled spec (dist/**/*.spec.js) with node's own test runner.
// Usage: node scripts/run-tests.js [substring ...]  — only specs whose path contains a substring.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', 'dist');
const roots = ['test', 'src', 'examples'].map((d) => path.join(root, d));
const files = [];
function walk(dir) {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (entry.name.endsWith('.spec.js')) files.push(full);
  }
}
roots.forEach(walk);
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((s) => f.includes(s))) : files;
if (selected.length === 0) {
  console.error('run-tests: no spec files found under dist/ (did the build run?)');
  process.exit(1);
}
// Specs that measure latency or start-up time run after the others, one at a time, so that the
// machine's cores are theirs (their targets are compared with a reference taken in the same run).
const ALONE = [
  'hostile-load.e2e.spec.js',
  'graphql-fuzz.e2e.spec.js',
  'plugin-snapshot.spec.js',
  'tftp/hostile.e2e.spec.js',
  'ldap/hostile.e2e.spec.js',
  // 20 emulated Pis and a SIGKILLed bramble: their retries run on the firmware's timeouts.
  'e2e/boot.e2e.spec.js',
  // QEMU emulates a whole PC in software (TCG) on one core for about 20 s a boot: alone, its
  // 60 s bound per boot keeps a wide margin.
  'dhcp/pc-qemu.e2e.spec.js',
  // A Debian VM boots over the network under TCG: boot time is measured, and two cores are all it has.
  'e2e/vm-boot-reference.e2e.spec.js',
  'e2e/vm-boot.e2e.spec.js',
];
const alone = selected.filter((f) => ALONE.some((name) => f.endsWith(name)));
const together = selected.filter((f) => !alone.includes(f));

function run(specs, concurrency) {
  if (specs.length === 0) return 0;
  const result = spawnSync(process.execPath, ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, ...specs.sort()], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'test' },
  });
  return result.status ?? 1;
}

const concurrency = process.env.BRAMBLE_TEST_CONCURRENCY || '2';
const first = run(together, concurrency);
const second = run(alone, 1);
process.exit(first || second);
