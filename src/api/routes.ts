import { z } from 'zod';
import {
  ClientChangeViewSchema,
  ClientPreviewViewSchema,
  ClientSetupSchema,
  ClientViewSchema,
  CoreEventSchema,
  CoreInfoSchema,
  ForceSchema,
  IdpProfileViewSchema,
  LogHistogramQuerySchema,
  LogHistogramSchema,
  LogLineSchema,
  SettingsSchema,
  LogQuerySchema,
  NameSchema,
  OkSchema,
  PolicyAttachSchema,
  PolicyCheckSchema,
  PolicyCheckViewSchema,
  CaseRunSchema,
  DecisionRecordSchema,
  DecisionRefSchema,
  PolicyImpactRequestSchema,
  PolicyWhoCanSchema,
  RecentCallersRequestSchema,
  RecentCallersSchema,
  WhoCanViewSchema,
  PolicyImpactSchema,
  PolicyDocumentSchema,
  PolicyExportedSchema,
  PolicyExportSchema,
  PolicyParsedSchema,
  PolicyCaseAddSchema,
  PolicyCaseRefSchema,
  PolicyCaseSchema,
  PolicyCasesRunSchema,
  PolicyFormatSchema,
  PolicyFormattedSchema,
  PolicyVocabularyRequestSchema,
  PolicyVocabularySchema,
  PolicySavedSchema,
  PolicySaveSchema,
  PolicySetViewSchema,
  PolicySimulateSchema,
  PolicyVersionViewSchema,
  RemovedSchema,
  RenameSchema,
  RunRequestSchema,
  SecretSetSchema,
  SecretsInfoSchema,
  SecretViewSchema,
  ServerDetailSchema,
  ServerViewSchema,
  TokenExchangeViewSchema,
  TokenExchangeSavedSchema,
  SignInViewSchema,
  CallerTokenSchema,
  AuthServerViewSchema,
  AuthServerSetSchema,
  AuthServerClientViewSchema,
  AuthServerUserViewSchema,
  AuthServerRevokedSchema,
  AuthServerTestViewSchema,
  SimulationViewSchema,
  VersionSchema,
} from './contract.js';

/**
 * The control API, written once: the HTTP binding, the typed client and the Electron IPC binding are
 * derived from this map. An input's fields named in the path (`:name`) fill the path; the rest travel
 * in the query string (GET, DELETE) or as the JSON body (POST, PUT). Browser-safe: zod only.
 */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: `/v1/${string}`;
  input: z.ZodType<unknown, unknown>;
  output: z.ZodType<unknown, unknown>;
  /** The HTTP status of a success (200 unless said). */
  status?: number;
}

/** A stream of server-sent events, each one `event` (the CLI's log follow, the app's live state). */
export interface StreamSpec {
  path: `/v1/${string}`;
  input: z.ZodType<unknown, unknown>;
  event: z.ZodType<unknown, unknown>;
}

const route = <const R extends RouteSpec>(r: R): R => r;
const none = z.object({}).strict();
const named = z.object({ name: NameSchema }).strict();
const namedForce = z.object({ name: NameSchema, force: ForceSchema }).strict();
const clientId = z.object({ id: NameSchema }).strict();

export const routes = {
  core: route({ method: 'GET', path: '/v1/core', input: none, output: CoreInfoSchema }),
  shutdown: route({ method: 'POST', path: '/v1/shutdown', input: none, output: OkSchema }),

  listServers: route({ method: 'GET', path: '/v1/servers', input: none, output: z.array(ServerViewSchema) }),
  run: route({ method: 'POST', path: '/v1/servers', input: RunRequestSchema, output: ServerViewSchema, status: 201 }),
  getServer: route({ method: 'GET', path: '/v1/servers/:name', input: named, output: ServerDetailSchema }),
  remove: route({ method: 'DELETE', path: '/v1/servers/:name', input: namedForce, output: RemovedSchema }),
  start: route({ method: 'POST', path: '/v1/servers/:name/start', input: named, output: ServerViewSchema }),
  stop: route({ method: 'POST', path: '/v1/servers/:name/stop', input: named, output: ServerViewSchema }),
  restart: route({ method: 'POST', path: '/v1/servers/:name/restart', input: named, output: ServerViewSchema }),
  rename: route({ method: 'POST', path: '/v1/servers/:name/rename', input: RenameSchema, output: ServerViewSchema }),
  setAuth: route({ method: 'PUT', path: '/v1/servers/:name/auth', input: z.object({ name: NameSchema, auth: z.unknown() }).strict(), output: ServerViewSchema }),
  /** Token exchange (RFC 8693) toward a server; takes effect when the server (re)starts. */
  tokenExchange: route({ method: 'GET', path: '/v1/servers/:name/token-exchange', input: named, output: TokenExchangeViewSchema.nullable() }),
  setTokenExchange: route({ method: 'PUT', path: '/v1/servers/:name/token-exchange', input: z.object({ name: NameSchema, settings: z.unknown() }).strict(), output: TokenExchangeSavedSchema }),
  removeTokenExchange: route({ method: 'DELETE', path: '/v1/servers/:name/token-exchange', input: named, output: OkSchema }),
  attachPolicy: route({ method: 'PUT', path: '/v1/servers/:name/policy', input: PolicyAttachSchema, output: ServerViewSchema }),
  /** A remote server's sign-in: its state; start one (answers once its URL is ready); wait for its end; cancel; sign out. */
  signInStatus: route({ method: 'GET', path: '/v1/servers/:name/sign-in', input: named, output: SignInViewSchema }),
  signInStart: route({ method: 'POST', path: '/v1/servers/:name/sign-in', input: named, output: SignInViewSchema }),
  signInWait: route({ method: 'POST', path: '/v1/servers/:name/sign-in/wait', input: named, output: SignInViewSchema }),
  signInCancel: route({ method: 'DELETE', path: '/v1/servers/:name/sign-in', input: named, output: OkSchema }),
  signOut: route({ method: 'POST', path: '/v1/servers/:name/sign-out', input: named, output: SignInViewSchema }),
  authServer: route({ method: 'GET', path: '/v1/authserver', input: none, output: AuthServerViewSchema }),
  /** ToolHive's embeddedAuthServer settings (either spelling, or a document holding them; as an object or as pasted YAML/JSON text), validated by the core. */
  setAuthServer: route({ method: 'PUT', path: '/v1/authserver', input: AuthServerSetSchema, output: AuthServerViewSchema }),
  removeAuthServer: route({ method: 'DELETE', path: '/v1/authserver', input: none, output: AuthServerViewSchema }),
  /** A new own signing key signs; the one before stays published until its tokens have expired. */
  rotateAuthServerKey: route({ method: 'POST', path: '/v1/authserver/rotate-key', input: none, output: AuthServerViewSchema }),
  /** Clients the user allowed on the consent page; revoking one drops its approval and its grants (refresh tokens). */
  authServerClients: route({ method: 'GET', path: '/v1/authserver/clients', input: none, output: z.array(AuthServerClientViewSchema) }),
  revokeAuthServerClient: route({ method: 'DELETE', path: '/v1/authserver/clients/:id', input: z.object({ id: z.string().min(1).max(256) }).strict(), output: AuthServerRevokedSchema }),
  /** Users the upstream identified; revoking one drops their grants, sessions and the upstream tokens kept for them. */
  authServerUsers: route({ method: 'GET', path: '/v1/authserver/users', input: none, output: z.array(AuthServerUserViewSchema) }),
  revokeAuthServerUser: route({ method: 'DELETE', path: '/v1/authserver/users/:subject', input: z.object({ subject: z.string().min(1).max(1024) }).strict(), output: AuthServerRevokedSchema }),
  /** "Test this provider": the upstream login in the system browser, no token for anyone; its state (pushed as it changes), start, wait, cancel. */
  authServerTest: route({ method: 'GET', path: '/v1/authserver/test', input: none, output: AuthServerTestViewSchema }),
  startAuthServerTest: route({ method: 'POST', path: '/v1/authserver/test', input: none, output: AuthServerTestViewSchema }),
  waitAuthServerTest: route({ method: 'POST', path: '/v1/authserver/test/wait', input: none, output: AuthServerTestViewSchema }),
  cancelAuthServerTest: route({ method: 'DELETE', path: '/v1/authserver/test', input: none, output: OkSchema }),
  callerToken: route({ method: 'POST', path: '/v1/servers/:name/caller-token', input: z.object({ name: NameSchema, refused: z.boolean().optional() }).strict(), output: CallerTokenSchema }),

  logs: route({ method: 'GET', path: '/v1/logs', input: LogQuerySchema, output: z.array(LogLineSchema) }),
  logHistogram: route({ method: 'GET', path: '/v1/logs/histogram', input: LogHistogramQuerySchema, output: LogHistogramSchema }),

  settings: route({ method: 'GET', path: '/v1/settings', input: none, output: SettingsSchema }),
  putSettings: route({ method: 'PUT', path: '/v1/settings', input: SettingsSchema.partial().strict(), output: SettingsSchema }),

  policies: route({ method: 'GET', path: '/v1/policies', input: none, output: z.array(PolicySetViewSchema) }),
  policy: route({
    method: 'GET',
    path: '/v1/policies/:name',
    input: z.object({ name: NameSchema, version: VersionSchema }).strict(),
    output: z.union([PolicySetViewSchema, PolicyVersionViewSchema]),
  }),
  policyHistory: route({ method: 'GET', path: '/v1/policies/:name/history', input: named, output: z.array(PolicyVersionViewSchema) }),
  savePolicy: route({ method: 'PUT', path: '/v1/policies/:name', input: PolicySaveSchema, output: PolicySavedSchema }),
  removePolicy: route({ method: 'DELETE', path: '/v1/policies/:name', input: named, output: RemovedSchema }),
  recentCallers: route({ method: 'POST', path: '/v1/recent-callers', input: RecentCallersRequestSchema, output: RecentCallersSchema }),
  policyWhoCan: route({ method: 'POST', path: '/v1/policy-who-can', input: PolicyWhoCanSchema, output: WhoCanViewSchema }),
  policyImpact: route({ method: 'POST', path: '/v1/policies/:name/impact', input: PolicyImpactRequestSchema, output: PolicyImpactSchema }),
  decision: route({ method: 'GET', path: '/v1/decisions/:server/:auditId', input: DecisionRefSchema, output: DecisionRecordSchema }),
  parsePolicyDocument: route({ method: 'POST', path: '/v1/policy-parse', input: PolicyDocumentSchema, output: PolicyParsedSchema }),
  exportPolicy: route({ method: 'GET', path: '/v1/policies/:name/export', input: PolicyExportSchema, output: PolicyExportedSchema }),
  policyCases: route({ method: 'GET', path: '/v1/policies/:name/cases', input: named, output: z.array(PolicyCaseSchema) }),
  addPolicyCase: route({ method: 'POST', path: '/v1/policies/:name/cases', input: PolicyCaseAddSchema, output: PolicyCaseSchema }),
  removePolicyCase: route({ method: 'DELETE', path: '/v1/policies/:name/cases/:id', input: PolicyCaseRefSchema, output: RemovedSchema }),
  runPolicyCases: route({ method: 'POST', path: '/v1/policies/:name/cases/run', input: PolicyCasesRunSchema, output: z.array(CaseRunSchema) }),
  checkPolicy: route({ method: 'POST', path: '/v1/policy-check', input: PolicyCheckSchema, output: PolicyCheckViewSchema }),
  formatPolicy: route({ method: 'POST', path: '/v1/policy-format', input: PolicyFormatSchema, output: PolicyFormattedSchema }),
  policyVocabulary: route({ method: 'POST', path: '/v1/policy-vocabulary', input: PolicyVocabularyRequestSchema, output: PolicyVocabularySchema }),
  simulatePolicy: route({ method: 'POST', path: '/v1/policy-simulate', input: PolicySimulateSchema, output: SimulationViewSchema }),

  clients: route({ method: 'GET', path: '/v1/clients', input: none, output: z.array(ClientViewSchema) }),
  client: route({ method: 'GET', path: '/v1/clients/:id', input: clientId, output: ClientViewSchema }),
  setupClient: route({ method: 'POST', path: '/v1/clients/:id/setup', input: ClientSetupSchema, output: ClientChangeViewSchema }),
  removeClient: route({ method: 'POST', path: '/v1/clients/:id/remove', input: ClientSetupSchema, output: ClientChangeViewSchema }),
  previewClient: route({
    method: 'GET',
    path: '/v1/clients/:id/preview',
    input: z.object({ id: NameSchema, op: z.enum(['setup', 'remove']), group: z.string().min(1).max(63).optional() }).strict(),
    output: ClientPreviewViewSchema,
  }),

  secrets: route({ method: 'GET', path: '/v1/secrets', input: none, output: SecretsInfoSchema }),
  setSecret: route({ method: 'PUT', path: '/v1/secrets/:name', input: SecretSetSchema, output: SecretViewSchema }),
  removeSecret: route({ method: 'DELETE', path: '/v1/secrets/:name', input: namedForce, output: RemovedSchema }),

  idps: route({ method: 'GET', path: '/v1/idps', input: none, output: z.array(IdpProfileViewSchema) }),
  idp: route({ method: 'GET', path: '/v1/idps/:name', input: named, output: IdpProfileViewSchema }),
  /** `config`: the profile object; or `document`: a ToolHive ConfigMap manifest or the profile as JSON/YAML text (`key`: its data key). */
  putIdp: route({
    method: 'PUT',
    path: '/v1/idps/:name',
    input: z
      .object({ name: NameSchema, config: z.unknown().optional(), document: z.string().max(256 * 1024).optional(), key: z.string().max(253).optional() })
      .strict()
      .refine((b) => (b.config === undefined) !== (b.document === undefined), { message: 'give either config or document' }),
    output: IdpProfileViewSchema,
  }),
  removeIdp: route({ method: 'DELETE', path: '/v1/idps/:name', input: named, output: RemovedSchema }),

  /** A one-time code for the app's first visit (`gatehouse ui`): exchanged once for a session cookie. */
  uiLoginCode: route({ method: 'POST', path: '/v1/ui/login-code', input: none, output: z.object({ url: z.string() }) }),
} as const satisfies Record<string, RouteSpec>;

export const streams = {
  /** Log lines as they are stored, after the backlog the query asks for. */
  followLogs: { path: '/v1/logs/stream', input: LogQuerySchema, event: LogLineSchema },
  /** The core's state changes (servers, clients). */
  events: { path: '/v1/events', input: none, event: CoreEventSchema },
} as const satisfies Record<string, StreamSpec>;

export type Routes = typeof routes;
export type RouteName = keyof Routes;
export type RouteInput<K extends RouteName> = z.input<Routes[K]['input']>;
export type RouteOutput<K extends RouteName> = z.output<Routes[K]['output']>;
export type Streams = typeof streams;
export type StreamName = keyof Streams;
export type StreamInput<K extends StreamName> = z.input<Streams[K]['input']>;
export type StreamEvent<K extends StreamName> = z.output<Streams[K]['event']>;

/** The path parameters a route's path names, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1]!);
}

/** Input → path, query and body for a route, the one encoding the client and the IPC binding share. */
export function encodeRequest(spec: { method?: string; path: string }, input: Record<string, unknown>): { path: string; query: URLSearchParams; body?: Record<string, unknown> } {
  const rest: Record<string, unknown> = { ...input };
  let path = spec.path;
  for (const p of pathParams(spec.path)) {
    const raw = rest[p];
    // Ids may be numbers (a saved case's); the server reads every path parameter as text and its schema converts.
    const v = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : raw;
    if (typeof v !== 'string' || v === '') throw new TypeError(`${spec.path} needs ${p}`);
    path = path.replace(`:${p}`, encodeURIComponent(v));
    delete rest[p];
  }
  const query = new URLSearchParams();
  if (spec.method === 'POST' || spec.method === 'PUT') return { path, query, body: rest };
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) query.append(k, String(item));
  }
  return { path, query };
}
