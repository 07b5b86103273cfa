import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KeychainUnavailableError } from './errors.js';

/** The OS keychain as Gatehouse uses it: string values under one service name. */
export interface Keychain {
  get(account: string): Promise<string | null>;
  set(account: string, value: string): Promise<void>;
  delete(account: string): Promise<boolean>;
  accounts(): Promise<string[]>;
}

export const KEYCHAIN_SERVICE = 'Gatehouse';

function advice(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'darwin':
      return 'Unlock the login keychain (Keychain Access) and allow Gatehouse when macOS asks.';
    case 'win32':
      return 'Windows Credential Manager must be available to your user account.';
    default:
      return (
        'Gatehouse needs a Secret Service on the session D-Bus: install and start gnome-keyring (or KeePassXC with ' +
        'Secret Service enabled), make sure DBUS_SESSION_BUS_ADDRESS is set, and unlock the login keyring. ' +
        'For CI or headless use, set GATEHOUSE_SECRETS_PROVIDER=environment and provide GATEHOUSE_SECRET_<NAME> variables.'
      );
  }
}

/** Turns the native module's errors into one clear, value-free error that says how to fix things. */
export function keychainError(err: unknown, op: string, platform: NodeJS.Platform = process.platform): KeychainUnavailableError {
  const raw = err instanceof Error ? err.message : String(err);
  let why = 'the OS keychain is not available';
  if (/locked|prompt|dismissed|cancel/i.test(raw)) why = 'the keychain is locked (or the unlock prompt was dismissed)';
  else if (/not provided by any \.service|org\.freedesktop\.secrets|ServiceUnknown|No such interface/i.test(raw)) why = 'no Secret Service is running';
  else if (/D-?Bus|DBUS|X11|autolaunch/i.test(raw)) why = 'no D-Bus session bus is reachable';
  else if (/timed out/i.test(raw)) why = 'the keychain did not answer (locked and waiting for a password prompt?)';
  else if (/crashed/i.test(raw)) why = 'the keychain module crashed';
  else if (/Cannot find module|keytar/i.test(raw)) why = 'the keychain module (keytar) could not be loaded';
  // The native error text is safe to keep: it comes from the keychain API and never contains a value.
  return new KeychainUnavailableError(`Cannot ${op}: ${why} (${raw.slice(0, 200)}). ${advice(platform)}`);
}

/** Finds the compiled worker script: beside this module when compiled, in dist/ when running from source. */
function workerPath(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'keychain-worker.js'), path.resolve(here, '..', '..', 'dist', 'secrets', 'keychain-worker.js')];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`the keychain worker is not built (looked for ${candidates.join(', ')}); run npm run build`);
  return found;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  op: string;
}

/**
 * The real keychain (macOS Keychain, Windows Credential Manager, Linux Secret Service) through keytar,
 * run in a child process: a native crash or a hang (a locked keyring waiting for a prompt) costs that
 * process, never the core, and becomes a KeychainUnavailableError.
 */
export class OsKeychain implements Keychain {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /**
   * @param env environment of the keychain process (which D-Bus session on Linux); default: the core's own
   */
  constructor(
    private readonly service = KEYCHAIN_SERVICE,
    private readonly timeoutMs = 10_000,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  private worker(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const child = fork(workerPath(), [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json', env: this.env });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m.value);
      else p.reject(keychainError(new Error(m.error ?? 'unknown error'), p.op));
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const why = signal ? `the keychain module crashed (${signal}${/locked/i.test(stderr) || /secret_value_get_text/.test(stderr) ? ', the keyring is probably locked' : ''})` : `the keychain process exited (${code})`;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.reject(keychainError(new Error(why), p.op));
      }
    });
    child.unref();
    child.channel?.unref();
    this.child = child;
    return child;
  }

  private call<T>(op: string, msg: { op: 'get' | 'set' | 'delete' | 'accounts'; account?: string; value?: string }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = this.worker();
      } catch (err) {
        reject(keychainError(err, op));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // A keychain waiting on an unlock prompt never answers: end that process, the next call starts afresh.
        child.kill('SIGKILL');
        reject(keychainError(new Error(`timed out after ${this.timeoutMs} ms`), op));
      }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, op });
      child.send({ id, service: this.service, ...msg });
    });
  }

  get(account: string): Promise<string | null> {
    return this.call('read from the keychain', { op: 'get', account });
  }

  set(account: string, value: string): Promise<void> {
    return this.call('write to the keychain', { op: 'set', account, value });
  }

  delete(account: string): Promise<boolean> {
    return this.call('delete from the keychain', { op: 'delete', account });
  }

  accounts(): Promise<string[]> {
    return this.call('list the keychain', { op: 'accounts' });
  }

  /** Ends the worker process (the core calls this when it stops). */
  close(): void {
    this.child?.kill();
    this.child = undefined;
  }
}

/** In-memory keychain for unit tests only; integration tests use OsKeychain against a real Secret Service. */
export class MemoryKeychain implements Keychain {
  readonly items = new Map<string, string>();
  failWith: Error | undefined;

  private check(): void {
    if (this.failWith) throw keychainError(this.failWith, 'use the keychain');
  }
  async get(account: string): Promise<string | null> {
    this.check();
    return this.items.get(account) ?? null;
  }
  async set(account: string, value: string): Promise<void> {
    this.check();
    this.items.set(account, value);
  }
  async delete(account: string): Promise<boolean> {
    this.check();
    return this.items.delete(account);
  }
  async accounts(): Promise<string[]> {
    this.check();
    return [...this.items.keys()];
  }
}
