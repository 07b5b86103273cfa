import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Every secret value a test uses is registered here; after the whole suite, test/support/global-setup.ts
 * searches every file the test cores wrote (databases, WAL files, logs) for each value.
 */
export function runDir(): string {
  const dir = process.env['GATEHOUSE_TEST_RUN_DIR'];
  if (!dir) throw new Error('GATEHOUSE_TEST_RUN_DIR is not set: run the tests with vitest (test/support/global-setup.ts sets it).');
  return dir;
}

export function registerTestSecret(label: string, value: string): string {
  fs.appendFileSync(path.join(runDir(), 'secrets.jsonl'), JSON.stringify({ label, value }) + '\n', { mode: 0o600 });
  return value;
}

/** A value nobody could produce by accident, registered for the leak scan. */
export function testSecret(label: string): string {
  return registerTestSecret(label, `gh-test-secret-${label}-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`);
}

export function homesRoot(): string {
  const root = path.join(process.env['GATEHOUSE_TEST_RUN_DIR'] ?? os.tmpdir(), 'homes');
  fs.mkdirSync(root, { recursive: true });
  return root;
}
