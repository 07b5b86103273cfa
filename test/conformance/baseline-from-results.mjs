#!/usr/bin/env node
// Drafts an --expected-failures baseline from one conformance run's results folder:
//
//   node test/conformance/baseline-from-results.mjs results/conformance/2025-11-25/direct > draft.yml
//
// One `- scenario:check-id` entry per failing check (FAILURE or WARNING, as the harness scores them),
// each with the harness's own message as a comment. It is a draft: write the reason in your own words
// before it replaces test/conformance/baseline-<rev>.yml.
import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node test/conformance/baseline-from-results.mjs <results folder of one run>');
  process.exit(2);
}
const rank = { FAILURE: 3, WARNING: 2, SUCCESS: 1, SKIPPED: 0 };
const lines = ['server:'];
const folders = fs
  .readdirSync(dir, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => ({ folder: e.name, m: /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(e.name) }))
  .filter((x) => x.m)
  .sort((a, b) => a.m[1].localeCompare(b.m[1]));
for (const { folder, m } of folders) {
  const file = path.join(dir, folder, 'checks.json');
  // A scenario that threw leaves an empty folder; the harness scores it as one FAILURE check whose id
  // is the scenario's name.
  const checks = fs.existsSync(file)
    ? JSON.parse(fs.readFileSync(file, 'utf8'))
    : [{ id: m[1], status: 'FAILURE', errorMessage: 'the scenario threw (see stderr.txt of the run)' }];
  const worst = new Map();
  for (const c of checks) {
    if (c.status === 'INFO') continue;
    const prev = worst.get(c.id);
    if (!prev || rank[c.status] > rank[prev.status]) worst.set(c.id, c);
  }
  for (const [id, c] of worst) {
    if (c.status !== 'FAILURE' && c.status !== 'WARNING') continue;
    const msg = (c.errorMessage ?? '').replace(/\s+/g, ' ').slice(0, 140);
    lines.push(`  # ${c.status}: ${msg}`, `  - ${m[1]}:${id}`);
  }
}
console.log(lines.join('\n'));
