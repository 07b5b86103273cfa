import { z } from 'zod';

/** The control API's contract: request bodies are validated here, responses typed here; client and handlers share it. */

export const TransportSchema = z.enum(['stdio', 'sse', 'streamable-http']);
export const NetworkSchema = z.enum(['default', 'host', 'none']);

export const RunRequestSchema = z
  .object({
    image: z.string().min(1).max(512),
    name: z.string().min(1).max(63).optional(),
    transport: TransportSchema.optional(),
    proxyPort: z.number().int().min(1).max(65535).optional(),
    targetPort: z.number().int().min(1).max(65535).optional(),
    env: z.record(z.string(), z.string()).optional(),
    secrets: z.array(z.object({ name: z.string().min(1).max(128), target: z.string().min(1).max(128) }).strict()).optional(),
    /** ToolHive's oidcConfig shape, validated by the core. */
    auth: z.unknown().optional(),
    /** ToolHive's authz-config (validated by the core): saved as a policy set named after the server. */
    authzConfig: z.unknown().optional(),
    /** Or attach an existing policy set by name. */
    policySet: z.string().min(1).max(64).optional(),
    /** Refuse an authzConfig Cedar's validator has findings about (by default they are warnings). */
    authzStrict: z.boolean().optional(),
    volumes: z.array(z.string()).optional(),
    permissionProfile: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    group: z.string().min(1).max(63).optional(),
    memory: z.string().optional(),
    cpus: z.string().optional(),
    network: NetworkSchema.optional(),
  })
  .strict();
export type RunRequestBody = z.infer<typeof RunRequestSchema>;

export interface ServerView {
  name: string;
  image: string | null;
  transport: 'stdio' | 'sse' | 'streamable-http';
  status: string;
  statusDetail: string | null;
  desiredState: 'running' | 'stopped';
  url: string;
  proxyPort: number;
  targetPort: number | null;
  group: string;
  permissionProfile: string;
  secrets: { name: string; target: string }[];
  /** Authentication settings as stored (ToolHive's oidcConfig shape); {type:'none'} is local mode. */
  auth: unknown;
  /** The Cedar policy set that authorizes the server's requests (null: no authorization). */
  policySet: string | null;
  containerId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ServerDetail extends ServerView {
  health?: Record<string, unknown>;
  history: { status: string; detail: string | null; exitCode: number | null; at: string }[];
}

export const SecretSetSchema = z.object({ value: z.string().min(1).max(1024 * 1024) }).strict();

/** A secret as the API shows it: its name and where it is used, never its value. */
export interface SecretView {
  name: string;
  usedBy: { server: string; target: string }[];
}

export interface SecretsInfo {
  provider: 'keychain' | 'environment';
  description: string;
  writable: boolean;
  secrets: SecretView[];
  /** References whose secret is missing from the provider (servers that will not start). */
  missing: { name: string; usedBy: { server: string; target: string }[] }[];
}

export interface IdpProfileView {
  name: string;
  config: Record<string, unknown>;
  usedBy: string[];
  updatedAt: string;
}

export interface CoreInfo {
  version: string;
  pid: number;
  home: string;
  engine: { connected: true; name: string; version: string } | { connected: false; error: string };
}

export interface LogLine {
  id: number;
  ts: number;
  server: string;
  source: 'container' | 'proxy' | 'core' | 'audit';
  level: string;
  message: string;
  fields: Record<string, unknown> | null;
}

export const LogQuerySchema = z.object({
  server: z.string().optional(),
  source: z.enum(['container', 'proxy', 'core', 'audit']).array().optional(),
  search: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  afterId: z.coerce.number().int().min(0).optional(),
  follow: z.boolean().optional(),
});

export type ApiErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'not_found'
  | 'conflict'
  | 'engine_unavailable'
  | 'image_unavailable'
  | 'keychain_unavailable'
  | 'client_config'
  | 'internal';

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; check?: PolicyCheckView };
}

// ---- policies ------------------------------------------------------------------------------

/** `strict`: refuse the version when Cedar's validator has findings (by default they are warnings, as ToolHive loads it). */
export const PolicySaveSchema = z.object({ config: z.unknown(), note: z.string().max(500).optional(), strict: z.boolean().optional() }).strict();
/** `server`: also check `arg_<name>` reads against the arguments that server's tools and prompts declare. */
export const PolicyCheckSchema = z.object({ config: z.unknown(), server: z.string().min(1).max(128).optional() }).strict();
export const PolicyAttachSchema = z.object({ policySet: z.string().min(1).max(64).nullable() }).strict();

/** A simulated request: who (claims), what (a tool, prompt or resource) and with which arguments. */
export const SimulationInputSchema = z
  .object({
    claims: z.record(z.string(), z.unknown()),
    feature: z.enum(['tool', 'prompt', 'resource']),
    name: z.string().min(1).max(2048),
    arguments: z.record(z.string(), z.unknown()).optional(),
    annotations: z.record(z.string(), z.unknown()).optional(),
    serverName: z.string().max(63).optional(),
  })
  .strict();

export const PolicySimulateSchema = z
  .object({
    set: z.string().min(1).max(64).optional(),
    version: z.number().int().min(1).optional(),
    config: z.unknown().optional(),
    input: SimulationInputSchema,
  })
  .strict()
  .refine((b) => (b.set === undefined) !== (b.config === undefined), { message: 'give either a policy set name or a config' });

export type SimulationInputBody = z.infer<typeof SimulationInputSchema>;

export interface PolicyProblemView {
  policy?: number;
  line?: number;
  column?: number;
  message: string;
  severity: 'error' | 'warning';
}

export interface PolicyCheckView {
  ok: boolean;
  errors: PolicyProblemView[];
  warnings: PolicyProblemView[];
}

export interface PolicySetView {
  name: string;
  currentVersion: number;
  config: unknown;
  createdAt: string;
  updatedAt: string;
  servers: string[];
}

export interface PolicyVersionView {
  name: string;
  version: number;
  config: unknown;
  note: string | null;
  createdAt: string;
}

export interface DecisionView {
  decision: 'allow' | 'deny';
  reasons: string[];
  errors: { policy: string; message: string }[];
}

export interface SimulationView {
  allowed: boolean;
  decision: DecisionView;
  determining: { id: string; index: number; text: string }[];
  reference: DecisionView;
  request: { principal: string; action: string; resource: string };
  problem?: string;
}

// ---- MCP clients ---------------------------------------------------------------------------

export const RenameSchema = z.object({ name: z.string().min(1).max(63) }).strict();

export const ClientSetupSchema = z.object({ group: z.string().min(1).max(63).optional() }).strict();
export const ClientRemoveSchema = z.object({ group: z.string().min(1).max(63).optional() }).strict();

export type ClientStateView = 'not-installed' | 'not-registered' | 'in-sync' | 'out-of-sync' | 'error';

/** One MCP client: installed? registered (for which server groups)? its file in sync? */
export interface ClientView {
  id: string;
  name: string;
  file: string;
  installed: boolean;
  groups: string[];
  state: ClientStateView;
  problems: string[];
  /** Gatehouse's entries in the file now. */
  entries: string[];
  note?: string;
}

/** What `client setup` / `client remove` changed. */
export interface ClientChangeView {
  client: ClientView;
  written: string[];
  removed: string[];
  unchanged: string[];
  conflicts: { server: string; reason: string }[];
  unsupported: { server: string; reason: string }[];
  fileChanged: boolean;
  created: boolean;
  backup?: string;
}
