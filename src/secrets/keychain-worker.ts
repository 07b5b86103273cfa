/**
 * Runs keytar in its own process. keytar is a native module and crashes the whole process on some
 * keychain states (findCredentials on a locked GNOME keyring segfaults in libsecret); isolating it
 * keeps the core alive and turns such a crash into a clear error. Protocol: one request in, one
 * reply out, over the IPC channel of child_process.fork.
 */
type Keytar = typeof import('keytar');

interface Request {
  id: number;
  op: 'get' | 'set' | 'delete' | 'accounts';
  service: string;
  account?: string;
  value?: string;
}

const keytarPromise: Promise<Keytar> = import('keytar').then((m) => ((m as unknown as { default?: Keytar }).default ?? m) as Keytar);

async function run(k: Keytar, r: Request): Promise<unknown> {
  switch (r.op) {
    case 'get':
      return k.getPassword(r.service, r.account ?? '');
    case 'set':
      return k.setPassword(r.service, r.account ?? '', r.value ?? '');
    case 'delete':
      return k.deletePassword(r.service, r.account ?? '');
    case 'accounts':
      // Values are dropped here: only account names cross the process boundary.
      return (await k.findCredentials(r.service)).map((c) => c.account);
  }
}

/**
 * One keytar call at a time. keytar runs each call on its own libuv thread, and libsecret segfaults
 * when calls overlap (a findCredentials while a setPassword is under way: seen with two sign-ins
 * storing secrets at once); in order, each waits for the one before.
 */
let queue: Promise<unknown> = Promise.resolve();

process.on('message', (msg: Request) => {
  queue = queue
    .then(() => keytarPromise)
    .then((k) => run(k, msg))
    .then(
      (value) => process.send?.({ id: msg.id, ok: true, value: value ?? null }),
      (err: unknown) => process.send?.({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
});
process.on('disconnect', () => process.exit(0));
