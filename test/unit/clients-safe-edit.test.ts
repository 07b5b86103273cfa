import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ClientNotInstalledError,
  ConfigLockedError,
  ConfigReadOnlyError,
  ConfigTooLargeError,
  MalformedConfigError,
  editConfigFile,
  parseConfig,
  type EntryLocation,
} from '../../src/clients/config-file/index.js';

const CURSOR: EntryLocation = { format: 'json', path: ['mcpServers'], shape: 'map' };
const ORIGINAL = '{\n  "mcpServers": {\n    "other": { "url": "https://example.com/mcp" }\n  }\n}\n';

/** An edit that adds (or replaces) one entry, as Gatehouse's client integrations do. */
const addEntry = (file: string, name: string, url = `http://127.0.0.1:4000/${name}`) => (current: string | undefined) => {
  const doc = parseConfig(current, CURSOR, file);
  doc.set(name, { type: 'http', url });
  return doc.text();
};

let dir: string;
let children: ChildProcess[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-safe-edit-'));
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const c of children) c.kill('SIGKILL');
  children = [];
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: string, mode = 0o644): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  fs.chmodSync(file, mode);
  return file;
}

function modeOf(file: string): number {
  return fs.statSync(file).mode & 0o7777;
}

/** A process that stays alive for the test: the holder of a "live" lock. */
function liveProcess(): number {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  children.push(child);
  if (child.pid === undefined) throw new Error('spawn failed');
  return child.pid;
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid;
  await new Promise((resolve) => child.once('exit', resolve));
  if (pid === undefined) throw new Error('spawn failed');
  return pid;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('editConfigFile', () => {
  it('creates a new file, readable by the user only, with no backup', async () => {
    const file = path.join(dir, 'mcp.json');
    const result = await editConfigFile(file, addEntry(file, 'fetch'));
    expect(result).toEqual({ file, changed: true, created: true });
    expect(fs.readFileSync(file, 'utf8')).toBe('{\n  "mcpServers": {\n    "fetch": {\n      "type": "http",\n      "url": "http://127.0.0.1:4000/fetch"\n    }\n  }\n}\n');
    expect(modeOf(file)).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(['mcp.json']);
  });

  it('writes nothing when the edit changes nothing (or returns undefined, or would create an empty file)', async () => {
    const file = write('mcp.json', ORIGINAL);
    const before = fs.statSync(file);
    expect(await editConfigFile(file, (t) => t)).toEqual({ file, changed: false, created: false });
    expect(await editConfigFile(file, () => undefined)).toMatchObject({ changed: false });
    const { ino, mtimeMs } = fs.statSync(file);
    expect([ino, mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    const missing = path.join(dir, 'new.json');
    expect(await editConfigFile(missing, (current) => parseConfig(current, CURSOR, missing).text())).toMatchObject({ changed: false });
    expect(fs.readdirSync(dir)).toEqual(['mcp.json']);
  });

  it('a missing folder means the client is not installed: nothing is created', async () => {
    const file = path.join(dir, 'NotInstalled', 'Claude', 'claude_desktop_config.json');
    const edit = vi.fn(addEntry(file, 'fetch'));
    const err = await rejection(editConfigFile(file, edit));
    expect(err).toBeInstanceOf(ClientNotInstalledError);
    expect(err.message).toContain(path.join(dir, 'NotInstalled', 'Claude'));
    expect(edit).not.toHaveBeenCalled();
    expect(fs.existsSync(path.join(dir, 'NotInstalled'))).toBe(false);
  });

  it('keeps the permission bits (0640 stays 0640), backup included', async () => {
    const file = write('mcp.json', ORIGINAL, 0o640);
    await editConfigFile(file, addEntry(file, 'fetch'));
    expect(modeOf(file)).toBe(0o640);
    expect(modeOf(`${file}.gatehouse-backup`)).toBe(0o640);
  });

  it('backs up the original once, before the first change, and never overwrites the backup', async () => {
    const file = write('mcp.json', ORIGINAL);
    const first = await editConfigFile(file, addEntry(file, 'a'));
    expect(first).toEqual({ file, changed: true, created: false, backup: `${file}.gatehouse-backup` });
    expect(fs.readFileSync(`${file}.gatehouse-backup`, 'utf8')).toBe(ORIGINAL);
    const afterFirst = fs.readFileSync(file, 'utf8');
    expect(afterFirst).not.toBe(ORIGINAL);
    await editConfigFile(file, addEntry(file, 'b'));
    expect(fs.readFileSync(`${file}.gatehouse-backup`, 'utf8')).toBe(ORIGINAL);
    expect([...parseConfig(fs.readFileSync(file, 'utf8'), CURSOR, file).entries().keys()]).toEqual(['other', 'a', 'b']);
    expect(fs.readdirSync(dir).sort()).toEqual(['mcp.json', 'mcp.json.gatehouse-backup']);
  });

  it('edits the target of a symlink and keeps the link', async () => {
    const target = write('dotfiles/cursor-mcp.json', ORIGINAL);
    fs.mkdirSync(path.join(dir, '.cursor'));
    const link = path.join(dir, '.cursor', 'mcp.json');
    fs.symlinkSync('../dotfiles/cursor-mcp.json', link);
    const result = await editConfigFile(link, addEntry(link, 'fetch'));
    expect(result.file).toBe(target);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(link)).toBe('../dotfiles/cursor-mcp.json');
    expect(parseConfig(fs.readFileSync(link, 'utf8'), CURSOR, link).entries().has('fetch')).toBe(true);
    expect(fs.readdirSync(path.join(dir, '.cursor'))).toEqual(['mcp.json']);
    expect(fs.readdirSync(path.join(dir, 'dotfiles')).sort()).toEqual(['cursor-mcp.json', 'cursor-mcp.json.gatehouse-backup']);
  });

  it('a dangling symlink: its target is created, the link kept', async () => {
    fs.mkdirSync(path.join(dir, 'real'));
    const link = path.join(dir, 'mcp.json');
    fs.symlinkSync(path.join(dir, 'real', 'mcp.json'), link);
    const result = await editConfigFile(link, addEntry(link, 'fetch'));
    expect(result).toMatchObject({ file: path.join(dir, 'real', 'mcp.json'), created: true });
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
  });

  it('refuses a read-only file, writes nothing and does not echo the new content', async () => {
    const file = write('mcp.json', ORIGINAL, 0o444);
    const err = await rejection(editConfigFile(file, () => '{"mcpServers": {"x": {"env": {"TOKEN": "SECRET-VALUE-42"}}}}'));
    expect(err).toBeInstanceOf(ConfigReadOnlyError);
    expect(err.message).toContain(file);
    expect(err.message).toContain('read-only');
    expect(err.message).not.toContain('SECRET-VALUE-42');
    expect(fs.readFileSync(file, 'utf8')).toBe(ORIGINAL);
    expect(fs.readdirSync(dir)).toEqual(['mcp.json']);
    // Nothing to change: no error.
    expect(await editConfigFile(file, (t) => t)).toMatchObject({ changed: false });
  });

  it('refuses a file larger than maxBytes without reading it (a sparse 17 MiB file against the 16 MiB default)', async () => {
    const big = write('big.json', '');
    fs.truncateSync(big, 17 * 1024 * 1024);
    const edit = vi.fn((t: string | undefined) => t);
    const err = await rejection(editConfigFile(big, edit));
    expect(err).toBeInstanceOf(ConfigTooLargeError);
    expect(err.message).toContain(big);
    expect(edit).not.toHaveBeenCalled();
    expect(fs.statSync(big).size).toBe(17 * 1024 * 1024);

    const small = write('mcp.json', ORIGINAL);
    expect(await rejection(editConfigFile(small, addEntry(small, 'x'), { maxBytes: 10 }))).toBeInstanceOf(ConfigTooLargeError);
    expect(fs.readFileSync(small, 'utf8')).toBe(ORIGINAL);
    expect(fs.readdirSync(dir).sort()).toEqual(['big.json', 'mcp.json']);
  });

  it('a malformed file is left untouched, the error says where', async () => {
    const broken = '{\n  "mcpServers": {\n    "a": {}\n    "b": {}\n  }\n}\n';
    const file = write('mcp.json', broken);
    const err = await rejection(editConfigFile(file, addEntry(file, 'fetch')));
    expect(err).toBeInstanceOf(MalformedConfigError);
    expect(err).toMatchObject({ file, line: 4, column: 5 });
    expect(fs.readFileSync(file, 'utf8')).toBe(broken);
    expect(fs.readdirSync(dir)).toEqual(['mcp.json']); // no backup, no temp file, lock released
  });

  it('a file that is not UTF-8 is refused, not mangled', async () => {
    const file = path.join(dir, 'mcp.json');
    fs.writeFileSync(file, Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]));
    const err = await rejection(editConfigFile(file, (t) => `${t ?? ''} `));
    expect(err).toBeInstanceOf(MalformedConfigError);
    expect(err.message).toContain('UTF-8');
  });

  it('a failed write leaves the original intact and no temporary file behind', async () => {
    const file = write('mcp.json', ORIGINAL);
    vi.spyOn(fsp, 'rename').mockRejectedValue(Object.assign(new Error('EIO: simulated'), { code: 'EIO' }));
    await expect(editConfigFile(file, addEntry(file, 'fetch'))).rejects.toThrow('simulated');
    expect(fs.readFileSync(file, 'utf8')).toBe(ORIGINAL);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.endsWith('.lock'))).toEqual([]);
  });

  it('an edit that throws releases the lock', async () => {
    const file = write('mcp.json', ORIGINAL);
    await expect(
      editConfigFile(file, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
    expect(await editConfigFile(file, addEntry(file, 'fetch'), { lockTimeoutMs: 100 })).toMatchObject({ changed: true });
  });

  it('concurrent edits of one file are serialised: no change is lost', async () => {
    const file = write('mcp.json', ORIGINAL);
    const names = Array.from({ length: 8 }, (_, i) => `server-${i}`);
    const results = await Promise.all(names.map((n) => editConfigFile(file, addEntry(file, n))));
    expect(results.every((r) => r.changed)).toBe(true);
    const entries = parseConfig(fs.readFileSync(file, 'utf8'), CURSOR, file).entries();
    expect([...entries.keys()].sort()).toEqual(['other', ...names].sort());
    expect(fs.readFileSync(`${file}.gatehouse-backup`, 'utf8')).toBe(ORIGINAL);
    expect(fs.readdirSync(dir).sort()).toEqual(['mcp.json', 'mcp.json.gatehouse-backup']);
  });

  it('waits for a live lock, then gives up with ConfigLockedError, leaving file and lock alone', async () => {
    const file = write('mcp.json', ORIGINAL);
    const pid = liveProcess();
    fs.writeFileSync(`${file}.lock`, `${pid}\nsomeone-else\n`);
    const started = Date.now();
    const err = await rejection(editConfigFile(file, addEntry(file, 'fetch'), { lockTimeoutMs: 300 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(err).toBeInstanceOf(ConfigLockedError);
    expect(err).toMatchObject({ file, pid });
    expect(err.message).toContain(`${file}.lock`);
    expect(fs.readFileSync(file, 'utf8')).toBe(ORIGINAL);
    expect(fs.readFileSync(`${file}.lock`, 'utf8')).toBe(`${pid}\nsomeone-else\n`);
  });

  it('gets the lock as soon as the holder releases it', async () => {
    const file = write('mcp.json', ORIGINAL);
    fs.writeFileSync(`${file}.lock`, `${liveProcess()}\nsomeone-else\n`);
    setTimeout(() => fs.rmSync(`${file}.lock`), 150);
    expect(await editConfigFile(file, addEntry(file, 'fetch'), { lockTimeoutMs: 5000 })).toMatchObject({ changed: true });
  });

  it('takes over a stale lock left by a dead process', async () => {
    const file = write('mcp.json', ORIGINAL);
    fs.writeFileSync(`${file}.lock`, `${await deadPid()}\n`);
    expect(await editConfigFile(file, addEntry(file, 'fetch'), { lockTimeoutMs: 200 })).toMatchObject({ changed: true });
    expect(fs.existsSync(`${file}.lock`)).toBe(false);
  });

  it('takes over a lock older than two minutes even if its pid is alive (the pid may have been reused)', async () => {
    const file = write('mcp.json', ORIGINAL);
    fs.writeFileSync(`${file}.lock`, `${liveProcess()}\n`);
    const old = new Date(Date.now() - 3 * 60_000);
    fs.utimesSync(`${file}.lock`, old, old);
    expect(await editConfigFile(file, addEntry(file, 'fetch'), { lockTimeoutMs: 200 })).toMatchObject({ changed: true });
  });
});
