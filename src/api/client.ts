import type {
  ApiErrorBody,
  ApiErrorCode,
  ClientChangeView,
  ClientView,
  CoreInfo,
  IdpProfileView,
  LogLine,
  PolicyCheckView,
  PolicySetView,
  PolicyVersionView,
  RunRequestBody,
  SecretsInfo,
  ServerDetail,
  ServerView,
  SimulationInputBody,
  SimulationView,
} from './contract.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** A refused policy set's problems, when that is what went wrong. */
    readonly check?: PolicyCheckView,
  ) {
    super(message);
  }
}

/** Typed client of the core's control API (used by the CLI, the bridge, the renderer, tests). */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  core(): Promise<CoreInfo> {
    return this.call('GET', '/v1/core');
  }
  listServers(): Promise<ServerView[]> {
    return this.call('GET', '/v1/servers');
  }
  getServer(name: string): Promise<ServerDetail> {
    return this.call('GET', `/v1/servers/${encodeURIComponent(name)}`);
  }
  run(body: RunRequestBody): Promise<ServerView> {
    return this.call('POST', '/v1/servers', body);
  }
  start(name: string): Promise<ServerView> {
    return this.call('POST', `/v1/servers/${encodeURIComponent(name)}/start`);
  }
  stop(name: string): Promise<ServerView> {
    return this.call('POST', `/v1/servers/${encodeURIComponent(name)}/stop`);
  }
  restart(name: string): Promise<ServerView> {
    return this.call('POST', `/v1/servers/${encodeURIComponent(name)}/restart`);
  }
  remove(name: string, force = false): Promise<{ removed: string }> {
    return this.call('DELETE', `/v1/servers/${encodeURIComponent(name)}${force ? '?force=true' : ''}`);
  }
  logs(q: { server?: string; sources?: string[]; search?: string; limit?: number }): Promise<LogLine[]> {
    return this.call('GET', `/v1/logs?${logParams(q)}`);
  }
  setAuth(name: string, auth: unknown): Promise<ServerView> {
    return this.call('PUT', `/v1/servers/${encodeURIComponent(name)}/auth`, { auth });
  }
  idps(): Promise<IdpProfileView[]> {
    return this.call('GET', '/v1/idps');
  }
  idp(name: string): Promise<IdpProfileView> {
    return this.call('GET', `/v1/idps/${encodeURIComponent(name)}`);
  }
  putIdp(name: string, config: unknown): Promise<IdpProfileView> {
    return this.call('PUT', `/v1/idps/${encodeURIComponent(name)}`, { config });
  }
  removeIdp(name: string): Promise<{ removed: string }> {
    return this.call('DELETE', `/v1/idps/${encodeURIComponent(name)}`);
  }
  secrets(): Promise<SecretsInfo> {
    return this.call('GET', '/v1/secrets');
  }
  setSecret(name: string, value: string): Promise<{ name: string; usedBy: { server: string; target: string }[] }> {
    return this.call('PUT', `/v1/secrets/${encodeURIComponent(name)}`, { value });
  }
  removeSecret(name: string, force = false): Promise<{ removed: string }> {
    return this.call('DELETE', `/v1/secrets/${encodeURIComponent(name)}${force ? '?force=true' : ''}`);
  }
  policies(): Promise<PolicySetView[]> {
    return this.call('GET', '/v1/policies');
  }
  policy(name: string, version?: number): Promise<PolicySetView | PolicyVersionView> {
    return this.call('GET', `/v1/policies/${encodeURIComponent(name)}${version !== undefined ? `?version=${version}` : ''}`);
  }
  policyHistory(name: string): Promise<PolicyVersionView[]> {
    return this.call('GET', `/v1/policies/${encodeURIComponent(name)}/history`);
  }
  savePolicy(name: string, config: unknown, note?: string, opts: { strict?: boolean } = {}): Promise<{ version: number; check: PolicyCheckView; servers: string[] }> {
    return this.call('PUT', `/v1/policies/${encodeURIComponent(name)}`, { config, ...(note ? { note } : {}), ...(opts.strict ? { strict: true } : {}) });
  }
  removePolicy(name: string): Promise<{ removed: string }> {
    return this.call('DELETE', `/v1/policies/${encodeURIComponent(name)}`);
  }
  attachPolicy(server: string, policySet: string | null): Promise<ServerView> {
    return this.call('PUT', `/v1/servers/${encodeURIComponent(server)}/policy`, { policySet });
  }
  checkPolicy(config: unknown, server?: string): Promise<PolicyCheckView> {
    return this.call('POST', '/v1/policy-check', { config, ...(server !== undefined ? { server } : {}) });
  }
  simulatePolicy(body: { set?: string; version?: number; config?: unknown; input: SimulationInputBody }): Promise<SimulationView> {
    return this.call('POST', '/v1/policy-simulate', body);
  }
  rename(name: string, newName: string): Promise<ServerView> {
    return this.call('POST', `/v1/servers/${encodeURIComponent(name)}/rename`, { name: newName });
  }
  clients(): Promise<ClientView[]> {
    return this.call('GET', '/v1/clients');
  }
  client(id: string): Promise<ClientView> {
    return this.call('GET', `/v1/clients/${encodeURIComponent(id)}`);
  }
  setupClient(id: string, group?: string): Promise<ClientChangeView> {
    return this.call('POST', `/v1/clients/${encodeURIComponent(id)}/setup`, group === undefined ? {} : { group });
  }
  removeClient(id: string, group?: string): Promise<ClientChangeView> {
    return this.call('POST', `/v1/clients/${encodeURIComponent(id)}/remove`, group === undefined ? {} : { group });
  }
  shutdown(): Promise<{ ok: true }> {
    return this.call('POST', '/v1/shutdown');
  }

  /** Live log lines (newline-delimited JSON) until the signal aborts. */
  async followLogs(q: { server?: string; sources?: string[]; afterId?: number }, onLine: (l: LogLine) => void, signal?: AbortSignal): Promise<void> {
    const res = await fetch(`${this.baseUrl}/v1/logs?${logParams(q)}&follow=true`, { headers: this.headers(), signal });
    if (!res.ok || !res.body) throw await toError(res);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf('\n');
      while (nl !== -1) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) onLine(JSON.parse(line) as LogLine);
        nl = buf.indexOf('\n');
      }
    }
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? this.headers() : { ...this.headers(), 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw await toError(res);
    return (await res.json()) as T;
  }
}

function logParams(q: { server?: string; sources?: string[]; search?: string; limit?: number; afterId?: number }): string {
  const p = new URLSearchParams();
  if (q.server) p.set('server', q.server);
  for (const s of q.sources ?? []) p.append('source', s);
  if (q.search) p.set('search', q.search);
  if (q.limit) p.set('limit', String(q.limit));
  if (q.afterId !== undefined) p.set('afterId', String(q.afterId));
  return p.toString();
}

async function toError(res: Response): Promise<ApiError> {
  try {
    const body = (await res.json()) as ApiErrorBody;
    return new ApiError(res.status, body.error.code, body.error.message, body.error.check);
  } catch {
    return new ApiError(res.status, 'internal', `The Gatehouse core answered HTTP ${res.status}.`);
  }
}
