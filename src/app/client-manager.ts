import fs from 'node:fs';
import {
  CLIENTS,
  configFileOf,
  detectDirOf,
  findClient,
  signsInForCallers,
  syncDocument,
  type BridgeLauncher,
  type ClientSpec,
  type ServerEndpoint,
  type SyncResult,
  type UserEnvironment,
} from '../clients/index.js';
import { editConfigFile, parseConfig } from '../clients/config-file/index.js';
import type { ClientChangeView, ClientPreviewView, ClientView } from '../api/contract.js';
import type { ServerRecord, Store } from '../store/index.js';
import { ClientConfigError, NotFoundError } from './errors.js';

/** What the API shows of a client (contract types, so the core and its clients cannot drift apart). */
export type ClientStatus = ClientView;
export type ClientChange = ClientChangeView;
export type ClientPreview = ClientPreviewView;

export interface ClientManagerOptions {
  user: UserEnvironment;
  launcher: BridgeLauncher;
  /** Where sync problems of registered clients go (they never fail a server operation). */
  onWarning: (message: string) => void;
}

/**
 * Keeps MCP clients' configuration files in step with the servers: `setup` registers a client for a
 * group and writes an entry per running server of it; every later run, start, stop, rename and removal
 * re-syncs the registered clients. Only entries Gatehouse wrote are ever changed (store.clientEntries).
 * File operations run one at a time in this core; the file lock keeps other writers out.
 */
export class ClientManager {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly opts: ClientManagerOptions,
  ) {}

  list(): ClientStatus[] {
    return CLIENTS.map((c) => this.statusOf(c));
  }

  status(id: string): ClientStatus {
    return this.statusOf(this.spec(id));
  }

  async setup(id: string, group = 'default'): Promise<ClientChange> {
    const client = this.spec(id);
    return this.serialized(async () => {
      if (!this.installed(client)) {
        throw new ClientConfigError(`${client.name} is not installed here (no folder ${detectDirOf(client, this.opts.user)}).`, { action: 'install-client', client: client.id });
      }
      const added = this.store.clientRegistrations.add(client.id, group);
      try {
        return await this.sync(client);
      } catch (err) {
        if (added) this.store.clientRegistrations.remove(client.id, group); // a failed setup registers nothing
        throw err;
      }
    });
  }

  /** Unregisters the client (one group, or all) and takes out the entries no longer wanted. */
  async remove(id: string, group?: string): Promise<ClientChange> {
    const client = this.spec(id);
    return this.serialized(async () => {
      const removed = this.store.clientRegistrations.remove(client.id, group);
      if (removed === 0 && this.owned(client).length === 0) {
        throw new NotFoundError(group === undefined ? `${client.name} is not set up.` : `${client.name} is not set up for group "${group}".`);
      }
      if (!this.installed(client)) {
        // The client (and its folder) is gone: nothing to edit, forget what we wrote.
        this.store.clientEntries.replaceForFile(client.id, this.file(client), []);
        return { client: this.statusOf(client), written: [], removed: [], unchanged: [], conflicts: [], unsupported: [], fileChanged: false, created: false };
      }
      return this.sync(client);
    });
  }

  /**
   * What `setup` (or `remove`) would write, without writing: the file's text now and after, and the
   * entries that would change. The same sync as the real one, on the file as it is.
   */
  preview(id: string, op: 'setup' | 'remove', group = 'default'): ClientPreview {
    const client = this.spec(id);
    const file = this.file(client);
    if (!this.installed(client)) throw new ClientConfigError(`${client.name} is not installed here (no folder ${detectDirOf(client, this.opts.user)}).`, { action: 'install-client', client: client.id });
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    const groups = new Set(this.store.clientRegistrations.list(client.id).map((r) => r.group));
    if (op === 'setup') groups.add(group);
    else groups.clear();
    const doc = parseConfig(current, client.location, file);
    const r = syncDocument(doc, client, this.wantedIn(groups), this.owned(client), this.opts.launcher, file);
    const after = current === undefined && r.written.length === 0 ? undefined : doc.text();
    return { file, before: current ?? null, after: after ?? null, written: r.written, removed: r.removed, conflicts: r.conflicts, unsupported: r.unsupported };
  }

  /** After servers changed: every registered client follows. Problems are reported, never thrown. */
  syncAll(): Promise<void> {
    return this.serialized(async () => {
      const ids = [...new Set(this.store.clientRegistrations.list().map((r) => r.client))];
      for (const id of ids) {
        const client = findClient(id);
        if (!client || !this.installed(client)) continue;
        try {
          const change = await this.sync(client);
          for (const c of change.conflicts) this.opts.onWarning(`${client.name}: ${c.reason}`);
        } catch (err) {
          this.opts.onWarning(`Could not update ${client.name}'s configuration: ${(err as Error).message}`);
        }
      }
    });
  }

  // ---- internals ---------------------------------------------------------------------------

  private spec(id: string): ClientSpec {
    const c = findClient(id);
    if (!c) throw new NotFoundError(`Unknown client "${id}". Known clients: ${CLIENTS.map((x) => x.id).join(', ')}`);
    return c;
  }

  private file(client: ClientSpec): string {
    return configFileOf(client, this.opts.user);
  }

  private installed(client: ClientSpec): boolean {
    return fs.existsSync(detectDirOf(client, this.opts.user)) && fs.existsSync(this.dirOfFile(client));
  }

  private dirOfFile(client: ClientSpec): string {
    const file = this.file(client);
    return file.slice(0, Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')));
  }

  private owned(client: ClientSpec) {
    return this.store.clientEntries.forFile(client.id, this.file(client));
  }

  /** The servers a client should have entries for: running (as wanted by the user) servers of its groups. */
  private wanted(client: ClientSpec): ServerEndpoint[] {
    return this.wantedIn(new Set(this.store.clientRegistrations.list(client.id).map((r) => r.group)));
  }

  private wantedIn(groups: ReadonlySet<string>): ServerEndpoint[] {
    return this.store.servers
      .list()
      .filter((s: ServerRecord) => groups.has(s.group) && s.desiredState === 'running')
      .map((s) => ({ name: s.name, transport: s.transport, proxyPort: s.proxyPort, callerSignIn: signsInForCallers({ remote: s.url !== null, auth: s.auth }) }));
  }

  private async sync(client: ClientSpec): Promise<ClientChange> {
    const file = this.file(client);
    const owned = this.owned(client);
    const wanted = this.wanted(client);
    let result: SyncResult | undefined;
    const edit = await editConfigFile(file, (current) => {
      const doc = parseConfig(current, client.location, file);
      result = syncDocument(doc, client, wanted, owned, this.opts.launcher, file);
      // A missing file stays missing when there is nothing to write into it.
      if (current === undefined && result.written.length === 0) return undefined;
      return doc.text();
    });
    const r = result!;
    this.store.clientEntries.replaceForFile(client.id, file, r.owned);
    return {
      client: this.statusOf(client),
      written: r.written,
      removed: r.removed,
      unchanged: r.unchanged,
      conflicts: r.conflicts,
      unsupported: r.unsupported,
      fileChanged: edit.changed,
      created: edit.created,
      ...(edit.backup ? { backup: edit.backup } : {}),
    };
  }

  /** Installed? registered? in sync? — computed by a dry run of the sync on the file as it is now. */
  private statusOf(client: ClientSpec): ClientStatus {
    const file = this.file(client);
    const groups = this.store.clientRegistrations.list(client.id).map((r) => r.group);
    const base = { id: client.id, name: client.name, file, groups, ...(client.note ? { note: client.note } : {}) };
    if (!this.installed(client)) return { ...base, installed: false, state: 'not-installed', problems: [], entries: [] };
    const owned = this.owned(client);
    let text: string | undefined;
    try {
      text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    } catch (err) {
      return { ...base, installed: true, state: 'error', problems: [`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`], entries: [] };
    }
    try {
      const doc = parseConfig(text, client.location, file);
      const present = doc.entries();
      const entries = owned.map((o) => o.entry).filter((e) => present.has(e));
      if (groups.length === 0) return { ...base, installed: true, state: 'not-registered', problems: [], entries };
      const dry = syncDocument(doc, client, this.wanted(client), owned, this.opts.launcher, file);
      const problems = [
        ...dry.written.map((n) => (present.has(n) ? `entry "${n}" differs from what Gatehouse would write` : `entry "${n}" is missing`)),
        ...dry.removed.map((n) => `entry "${n}" is for a server that is not running or not in the group`),
        ...dry.conflicts.map((c) => c.reason),
        ...dry.unsupported.map((u) => u.reason),
      ];
      return { ...base, installed: true, state: problems.length === 0 ? 'in-sync' : 'out-of-sync', problems, entries };
    } catch (err) {
      return { ...base, installed: true, state: 'error', problems: [(err as Error).message], entries: [] };
    }
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
