// Several commands started at once with no core running (a desktop client launching one bridge per
// server does exactly this) must all reach the one core that wins the start, never fail.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readDiscovery } from '../../src/app/index.js';
import { tempHome } from '../support/core-harness.js';
import { runCli } from '../support/cli.js';

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

describe('starting the core from many commands at once', () => {
  const homes: string[] = [];
  afterAll(async () => {
    await Promise.all(homes.map((home) => runCli(home, ['shutdown'])));
  });

  it.each([
    [1, 'a fresh home'],
    [2, 'a fresh home'],
    [3, 'a home whose last core crashed, leaving its lock'],
    [4, 'a home whose last core crashed, leaving its lock'],
  ])('five commands at once (try %i, %s) all succeed, against one core', async (_, what) => {
    const home = tempHome();
    homes.push(home);
    if (what !== 'a fresh home') fs.writeFileSync(path.join(home, 'core.lock'), String(deadPid()));
    const results = await Promise.all(Array.from({ length: 5 }, () => runCli(home, ['ls', '--format', 'json'])));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([]);
    }
    const core = readDiscovery(path.join(home, 'core.json'));
    expect(core).toBeDefined();
    expect(fs.readFileSync(path.join(home, 'core.lock'), 'utf8').trim()).toBe(String(core!.pid));
    // No lock-creation leftovers beside it, once the cores that lost the start have given up (a loser may
    // still be between writing its private file and removing it when the commands are done).
    await expect.poll(() => fs.readdirSync(home).filter((f) => f.startsWith('core.lock.')), { timeout: 10_000 }).toEqual([]);
  });
});
