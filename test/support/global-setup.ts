import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Files under dir, recursively (sockets and the like skipped). */
function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * One folder per test run: every test core's GATEHOUSE_HOME lives under it, and every test secret
 * is registered in it. When the suite ends, no registered value may appear in any file there.
 */
export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-run-'));
  process.env['GATEHOUSE_TEST_RUN_DIR'] = dir;
  return () => {
    const registry = path.join(dir, 'secrets.jsonl');
    const secrets = fs.existsSync(registry)
      ? fs.readFileSync(registry, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { label: string; value: string })
      : [];
    const leaks: string[] = [];
    const scanned = files(dir).filter((f) => f !== registry);
    for (const f of scanned) {
      const content = fs.readFileSync(f);
      for (const s of secrets) if (content.includes(s.value)) leaks.push(`${path.relative(dir, f)} contains the value of test secret "${s.label}"`);
    }
    if (leaks.length > 0) {
      // vitest reports an error thrown here but still exits 0: set the exit code so the run fails.
      process.exitCode = 1;
      process.stdout.write(`\nLeak scan FAILED: 1 passed, 1 failed\n`);
      throw new Error(`Secret values found in files Gatehouse wrote (run folder ${dir}):\n${leaks.join('\n')}`);
    }
    if (secrets.length > 0) process.stdout.write(`\nLeak scan: ${secrets.length} test secrets, ${scanned.length} files written by test cores: no value found.\n`);
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
