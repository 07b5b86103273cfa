import type { ClientManager } from '../app/client-manager.js';
import type { ServerManager } from '../app/server-manager.js';
import type { SignIns } from '../app/sign-ins.js';
import type { AuthServerManager } from '../app/auth-server-manager.js';
import type { Store } from '../store/index.js';
import type { CoreEvent } from './contract.js';
import { ClientFileWatch } from './client-file-watch.js';
import { serverView } from './handlers.js';

/**
 * The push channel's source: every write to a server's row becomes one `server` (or `server-removed`)
 * event, coalesced per turn of the event loop and read after the write's transaction committed. When
 * servers come or go, or a client's file changes on disk, clients' sync state is pushed too.
 */
export class CoreEvents {
  private readonly listeners = new Set<(e: CoreEvent) => void>();
  private readonly pending = new Set<string>();
  private readonly known: Set<string>;
  private scheduled = false;
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeSignIns: () => void;
  private readonly unsubscribeAuthServer: () => void;
  private readonly unsubscribePolicies: () => void;
  private readonly files = new ClientFileWatch(() => this.clientsChanged());

  constructor(
    private readonly store: Store,
    private readonly manager: ServerManager,
    private readonly clients: ClientManager,
    signIns: SignIns,
    authServer: AuthServerManager,
  ) {
    // The authorization server's view (no key, no secret) and the provider test's progress and outcome.
    this.unsubscribeAuthServer = authServer.onChange((what) => {
      if (this.listeners.size === 0 || this.closed) return;
      this.emit(what === 'test' ? { type: 'authserver-test', test: authServer.testView() } : { type: 'authserver', authServer: authServer.view() });
    });
    // A sign-in's state is read when it changes (never a token: the view has none).
    this.unsubscribeSignIns = signIns.onChange((name) => {
      if (this.listeners.size === 0 || this.closed) return;
      void signIns.view(name).then(
        (signIn) => !this.closed && this.emit({ type: 'sign-in', signIn }),
        () => {}, // the server was removed meanwhile
      );
    });
    // A policy set's new version or deletion: its name, once the write has committed (the next turn).
    this.unsubscribePolicies = store.policies.onChange((name) => {
      if (this.listeners.size === 0 || this.closed) return;
      setImmediate(() => !this.closed && this.emit({ type: 'policy-set', name }));
    });
    this.known = new Set(store.servers.list().map((s) => s.name));
    this.unsubscribe = store.servers.onChange((name) => {
      this.pending.add(name);
      this.schedule();
    });
  }

  subscribe(listener: (e: CoreEvent) => void): () => void {
    this.listeners.add(listener);
    // Client files are watched only while someone listens (the app or the tray is open).
    if (this.listeners.size === 1) this.files.set(this.installedFiles());
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.files.close();
    };
  }

  /** After a client's file was changed, through the API or on disk. */
  clientsChanged(): void {
    if (this.listeners.size === 0 || this.closed) return;
    const clients = this.clients.list();
    this.files.set(clients.filter((c) => c.installed).map((c) => c.file));
    this.emit({ type: 'clients', clients });
  }

  private installedFiles(): string[] {
    try {
      return this.clients.list().filter((c) => c.installed).map((c) => c.file);
    } catch {
      return [];
    }
  }

  close(): void {
    // A flush already scheduled must not read a store that closes right after this.
    this.closed = true;
    this.unsubscribe();
    this.unsubscribeSignIns();
    this.unsubscribeAuthServer();
    this.unsubscribePolicies();
    this.files.close();
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed) return;
    const names = [...this.pending];
    this.pending.clear();
    let membership = false;
    for (const name of names) {
      const s = this.store.servers.get(name);
      if (s) {
        if (!this.known.has(name)) membership = true;
        this.known.add(name);
        this.emit({ type: 'server', server: serverView(this.manager, s) });
      } else if (this.known.delete(name)) {
        membership = true;
        this.emit({ type: 'server-removed', name });
      }
    }
    if (membership) this.clientsChanged();
  }

  private emit(e: CoreEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // one broken subscriber does not stop the others
      }
    }
  }
}
