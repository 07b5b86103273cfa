import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PrivateKeyring {
  /** Environment that points a process at this keyring's D-Bus session. */
  env: NodeJS.ProcessEnv;
  /** Locks the login collection (as the screen locker would). */
  lock(): Promise<void>;
  /** Stops the Secret Service (the daemon dies; the bus stays). */
  stopService(): Promise<void>;
  stop(): Promise<void>;
}

const SETUP_HELP =
  'These tests need a real Secret Service: on Debian `apt-get install gnome-keyring dbus-x11 libsecret-1-dev` ' +
  '(.ci/run does this). They start their own D-Bus session and gnome-keyring-daemon with a throwaway password.';

function waitLine(child: ChildProcess, what: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms. ${SETUP_HELP}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) {
        clearTimeout(timer);
        resolve(buf.slice(0, nl).trim());
      }
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${what} could not be started (${err.message}). ${SETUP_HELP}`));
    });
  });
}

async function nameHasOwner(env: NodeJS.ProcessEnv, name: string): Promise<boolean> {
  const { stdout } = await run('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', `string:${name}`], { env });
  return /boolean true/.test(stdout);
}

/**
 * A real GNOME keyring on a private D-Bus session, unlocked with a throwaway password and a throwaway
 * HOME, so tests can lock it or kill it without touching anyone else's keychain.
 */
export async function startPrivateKeyring(): Promise<PrivateKeyring> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-keyring-'));
  const bus = spawn('dbus-daemon', ['--session', '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const address = await waitLine(bus, 'dbus-daemon');
  const env: NodeJS.ProcessEnv = { ...process.env, DBUS_SESSION_BUS_ADDRESS: address, HOME: home, XDG_RUNTIME_DIR: home };
  delete env['GNOME_KEYRING_CONTROL'];
  const daemon = spawn('gnome-keyring-daemon', ['--unlock', '--components=secrets', '--foreground'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  daemon.stdin?.end('throwaway-test-password');
  daemon.once('error', () => {});
  const deadline = Date.now() + 10_000;
  while (!(await nameHasOwner(env, 'org.freedesktop.secrets').catch(() => false))) {
    if (Date.now() > deadline) {
      daemon.kill();
      bus.kill();
      throw new Error(`gnome-keyring-daemon did not register org.freedesktop.secrets. ${SETUP_HELP}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    env,
    async lock() {
      await run('dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.Lock', 'array:objpath:/org/freedesktop/secrets/collection/login'], { env });
    },
    async stopService() {
      daemon.kill('SIGKILL');
      await new Promise((r) => daemon.once('exit', r));
    },
    async stop() {
      daemon.kill('SIGKILL');
      bus.kill('SIGKILL');
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}
