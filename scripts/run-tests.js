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
const concurrency = process.env.BRAMBLE_TEST_CONCURRENCY || '2';
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', `--test-concurrency=${concurrency}`, ...selected.sort()],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);
