#!/usr/bin/env node
// Removes compiled files under dist/ whose TypeScript source is gone (a deleted spec must not
// keep running from a stale dist/ on a developer's machine; CI builds from a clean clone).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
function walk(dir) {
  if (!fs.existsSync(dir)) return;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (/\.js(\.map)?$/.test(entry.name)) {
      const source = path.join(root, path.relative(dist, full)).replace(/\.js(\.map)?$/, '.ts');
      if (!fs.existsSync(source)) fs.rmSync(full);
    }
  }
}
walk(dist);
