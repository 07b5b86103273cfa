import type { Db } from './database.js';

export type TransportKind = 'stdio' | 'sse' | 'streamable-http';
export type DesiredState = 'running' | 'stopped';
/**
 * `unhealthy`: the MCP server stopped answering health checks. `needs-sign-in`: a remote server whose
 * sign-in is missing or ended. `auth-retrying`: its authorization server cannot refresh the sign-in now.
 */
export type ServerStatus = 'starting' | 'running' | 'unhealthy' | 'needs-sign-in' | 'auth-retrying' | 'stopping' | 'stopped' | 'error' | 'unknown';
export type NetworkSetting = 'default' | 'host' | 'none';

/** A reference to a secret (never its value) and the environment variable that receives it. */
export interface SecretRef {
  name: string;
  target: string;
}

export interface ServerRecord {
  name: string;
  image: string | null;
  url: string | null;
  transport: TransportKind;
  args: string[];
  env: Record<string, string>;
  secrets: SecretRef[];
  /** Authentication settings (ToolHive's oidcConfig shape; validated by src/auth). */
  auth: unknown;
  /**
   * A remote server (no container, `url` set): how Gatehouse signs in to it, ToolHive's remote auth
   * settings (validated by src/app). Null for servers in containers.
   */
  remote: unknown;
  /** Token exchange toward the server (ToolHive's tokenExchange settings, validated by src/oauth); null: none. */
  tokenExchange: unknown;
  /** Name of the Cedar policy set attached to the server (undefined: no authorization configured). */
  policySet: string | null;
  volumes: string[];
  permissionProfile: string;
  /** The resolved profile at creation time, so a later edit of the file cannot silently widen a running server. */
  profile: unknown;
  proxyPort: number;
  targetPort: number | null;
  group: string;
  memoryBytes: number | null;
  nanoCpus: number | null;
  networkSetting: NetworkSetting;
  desiredState: DesiredState;
  status: ServerStatus;
  statusDetail: string | null;
  containerId: string | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  name: string;
  image: string | null;
  url: string | null;
  transport: TransportKind;
  args_json: string;
  env_json: string;
  secrets_json: string;
  auth_json: string;
  remote_json: string | null;
  token_exchange_json: string | null;
  policy_set: string | null;
  volumes_json: string;
  permission_profile: string;
  profile_json: string;
  proxy_port: number;
  target_port: number | null;
  grp: string;
  memory_bytes: number | null;
  nano_cpus: number | null;
  network_setting: NetworkSetting;
  desired_state: DesiredState;
  status: ServerStatus;
  status_detail: string | null;
  container_id: string | null;
  created_at: string;
  updated_at: string;
}

function fromRow(r: Row): ServerRecord {
  return {
    name: r.name,
    image: r.image,
    url: r.url,
    transport: r.transport,
    args: JSON.parse(r.args_json) as string[],
    env: JSON.parse(r.env_json) as Record<string, string>,
    secrets: JSON.parse(r.secrets_json) as SecretRef[],
    auth: JSON.parse(r.auth_json) as unknown,
    remote: r.remote_json === null ? null : (JSON.parse(r.remote_json) as unknown),
    tokenExchange: r.token_exchange_json === null ? null : (JSON.parse(r.token_exchange_json) as unknown),
    policySet: r.policy_set,
    volumes: JSON.parse(r.volumes_json) as string[],
    permissionProfile: r.permission_profile,
    profile: JSON.parse(r.profile_json) as unknown,
    proxyPort: r.proxy_port,
    targetPort: r.target_port,
    group: r.grp,
    memoryBytes: r.memory_bytes,
    nanoCpus: r.nano_cpus,
    networkSetting: r.network_setting,
    desiredState: r.desired_state,
    status: r.status,
    statusDetail: r.status_detail,
    containerId: r.container_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export type NewServer = Omit<ServerRecord, 'createdAt' | 'updatedAt' | 'status' | 'statusDetail' | 'containerId' | 'auth' | 'policySet' | 'remote' | 'tokenExchange'> & {
  status?: ServerStatus;
  auth?: unknown;
  remote?: unknown;
  tokenExchange?: unknown;
  policySet?: string | null;
};

/** Server definitions: one row per server, the source of truth for what should exist. */
export class ServersRepository {
  private readonly listeners = new Set<(name: string) => void>();

  constructor(private readonly db: Db) {}

  /**
   * Called with a server's name after any write to its row (possibly inside a transaction that is not
   * committed yet: read the row later, not in the callback).
   */
  onChange(listener: (name: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(...names: string[]): void {
    for (const l of this.listeners) for (const n of names) l(n);
  }

  insert(s: NewServer, now = new Date().toISOString()): ServerRecord {
    this.db
      .prepare(
        `INSERT INTO servers (name, image, url, transport, args_json, env_json, secrets_json, auth_json, remote_json, token_exchange_json, policy_set, volumes_json, permission_profile,
           profile_json, proxy_port, target_port, grp, memory_bytes, nano_cpus, network_setting, desired_state,
           status, status_detail, container_id, created_at, updated_at)
         VALUES (@name, @image, @url, @transport, @args_json, @env_json, @secrets_json, @auth_json, @remote_json, @token_exchange_json, @policy_set, @volumes_json, @permission_profile,
           @profile_json, @proxy_port, @target_port, @grp, @memory_bytes, @nano_cpus, @network_setting, @desired_state,
           @status, NULL, NULL, @now, @now)`,
      )
      .run({
        name: s.name,
        image: s.image,
        url: s.url,
        transport: s.transport,
        args_json: JSON.stringify(s.args),
        env_json: JSON.stringify(s.env),
        secrets_json: JSON.stringify(s.secrets),
        auth_json: JSON.stringify(s.auth ?? { type: 'none' }),
        remote_json: s.remote === undefined || s.remote === null ? null : JSON.stringify(s.remote),
        token_exchange_json: s.tokenExchange === undefined || s.tokenExchange === null ? null : JSON.stringify(s.tokenExchange),
        policy_set: s.policySet ?? null,
        volumes_json: JSON.stringify(s.volumes),
        permission_profile: s.permissionProfile,
        profile_json: JSON.stringify(s.profile ?? null),
        proxy_port: s.proxyPort,
        target_port: s.targetPort,
        grp: s.group,
        memory_bytes: s.memoryBytes,
        nano_cpus: s.nanoCpus,
        network_setting: s.networkSetting,
        desired_state: s.desiredState,
        status: s.status ?? 'stopped',
        now,
      });
    this.changed(s.name);
    return this.getOrThrow(s.name);
  }

  get(name: string): ServerRecord | undefined {
    const row = this.db.prepare('SELECT * FROM servers WHERE name = ?').get(name) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  getOrThrow(name: string): ServerRecord {
    const s = this.get(name);
    if (!s) throw new Error(`No server named "${name}".`);
    return s;
  }

  list(): ServerRecord[] {
    return (this.db.prepare('SELECT * FROM servers ORDER BY name').all() as Row[]).map(fromRow);
  }

  byProxyPort(port: number): ServerRecord | undefined {
    const row = this.db.prepare('SELECT * FROM servers WHERE proxy_port = ?').get(port) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  usedProxyPorts(): Set<number> {
    const rows = this.db.prepare('SELECT proxy_port FROM servers').all() as { proxy_port: number }[];
    return new Set(rows.map((r) => r.proxy_port));
  }

  setContainer(name: string, containerId: string | null, now = new Date().toISOString()): void {
    this.db.prepare('UPDATE servers SET container_id = ?, updated_at = ? WHERE name = ?').run(containerId, now, name);
    this.changed(name);
  }

  setDesiredState(name: string, desired: DesiredState, now = new Date().toISOString()): void {
    this.db.prepare('UPDATE servers SET desired_state = ?, updated_at = ? WHERE name = ?').run(desired, now, name);
    this.changed(name);
  }

  setStatus(name: string, status: ServerStatus, detail: string | null, now = new Date().toISOString()): void {
    this.db
      .prepare('UPDATE servers SET status = ?, status_detail = ?, updated_at = ? WHERE name = ?')
      .run(status, detail, now, name);
    this.changed(name);
  }

  setAuth(name: string, auth: unknown, now = new Date().toISOString()): void {
    this.db.prepare('UPDATE servers SET auth_json = ?, updated_at = ? WHERE name = ?').run(JSON.stringify(auth), now, name);
    this.changed(name);
  }

  setRemote(name: string, remote: unknown, now = new Date().toISOString()): void {
    this.db.prepare('UPDATE servers SET remote_json = ?, updated_at = ? WHERE name = ?').run(JSON.stringify(remote), now, name);
    this.changed(name);
  }

  setTokenExchange(name: string, settings: unknown, now = new Date().toISOString()): void {
    this.db.prepare('UPDATE servers SET token_exchange_json = ?, updated_at = ? WHERE name = ?').run(settings === null ? null : JSON.stringify(settings), now, name);
    this.changed(name);
  }

  setPolicySet(name: string, policySet: string | null, now = new Date().toISOString()): void {
    this.db.prepare('UPDATE servers SET policy_set = ?, updated_at = ? WHERE name = ?').run(policySet, now, name);
    this.changed(name);
  }

  byPolicySet(policySet: string): ServerRecord[] {
    return (this.db.prepare('SELECT * FROM servers WHERE policy_set = ? ORDER BY name').all(policySet) as Row[]).map(fromRow);
  }

  /** Removes a server and what its lists said (its history and logs stay, as records). */
  delete(name: string): boolean {
    const deleted = this.db.transaction(() => {
      this.db.prepare('DELETE FROM server_features WHERE server = ?').run(name);
      return this.db.prepare('DELETE FROM servers WHERE name = ?').run(name).changes > 0;
    })();
    if (deleted) this.changed(name);
    return deleted;
  }

  /** Renames a server and everything recorded under its name (history, logs), in one transaction. */
  rename(from: string, to: string, now = new Date().toISOString()): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE servers SET name = ?, updated_at = ? WHERE name = ?').run(to, now, from);
      this.db.prepare('UPDATE server_status_history SET server = ? WHERE server = ?').run(to, from);
      this.db.prepare('UPDATE logs SET server = ? WHERE server = ?').run(to, from);
      this.db.prepare('UPDATE server_features SET server = ? WHERE server = ?').run(to, from);
    })();
    this.changed(from, to);
  }
}
