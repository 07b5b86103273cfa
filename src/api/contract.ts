import { z } from 'zod';

/** The control API's contract: request bodies are validated here, responses typed here; client and handlers share it. */

export const TransportSchema = z.enum(['stdio', 'sse', 'streamable-http']);
export const NetworkSchema = z.enum(['default', 'host', 'none']);

/** The file the config was read from: kept with the version (when it reads as exactly that config), so its export gives it back unchanged. */
export const PolicySourceSchema = z.object({ text: z.string().max(2_000_000), fileName: z.string().max(255).optional() }).strict();
export const RunRequestSchema = z
  .object({
    /** A server in a container: its image. */
    image: z.string().min(1).max(512).optional(),
    /** Or a remote MCP server: its URL (validated by the core: https, or http on this machine). */
    url: z.string().min(1).max(2048).optional(),
    /** How Gatehouse signs in to the remote server (ToolHive's --remote-auth-* settings; see src/remote). */
    remote: z.unknown().optional(),
    name: z.string().min(1).max(63).optional(),
    transport: TransportSchema.optional(),
    proxyPort: z.number().int().min(1).max(65535).optional(),
    targetPort: z.number().int().min(1).max(65535).optional(),
    env: z.record(z.string(), z.string()).optional(),
    secrets: z.array(z.object({ name: z.string().min(1).max(128), target: z.string().min(1).max(128) }).strict()).optional(),
    /** ToolHive's oidcConfig shape, validated by the core. */
    auth: z.unknown().optional(),
    /** Token exchange toward the server: ToolHive's tokenExchange (or token_exchange_config), validated by the core. */
    tokenExchange: z.unknown().optional(),
    /** ToolHive's authz-config (validated by the core): saved as a policy set named after the server. */
    authzConfig: z.unknown().optional(),
    /** The file authzConfig was read from (kept with the version, for a byte-for-byte export). */
    authzSource: PolicySourceSchema.optional(),
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

export const ServerStatusSchema = z.enum(['starting', 'running', 'unhealthy', 'needs-sign-in', 'auth-retrying', 'stopping', 'stopped', 'error', 'unknown']);
const SecretRefSchema = z.object({ name: z.string(), target: z.string() });

/** A server's token exchange (RFC 8693) settings as the core holds them: names of secrets, never values. */
export const TokenExchangeViewSchema = z.object({
  tokenUrl: z.string(),
  clientId: z.string().nullable(),
  clientSecretName: z.string().nullable(),
  audience: z.string().nullable(),
  scopes: z.array(z.string()),
  subjectTokenType: z.string(),
  /** The header the exchanged token goes in toward the server (lower case; `authorization` unless configured). */
  headerName: z.string(),
  subjectProviderName: z.string().nullable(),
});
export type TokenExchangeView = z.infer<typeof TokenExchangeViewSchema>;

/** Saved settings, and when the server uses them: from its next request (its proxy exchanges already), or from its next restart or start. */
export const TokenExchangeSavedSchema = TokenExchangeViewSchema.extend({ applies: z.enum(['next-request', 'restart', 'start']) });
export type TokenExchangeSaved = z.infer<typeof TokenExchangeSavedSchema>;

export const ServerViewSchema = z.object({
  name: z.string(),
  /** A server in a local container, or a remote server (no container; `remoteUrl` is where it is). */
  kind: z.enum(['container', 'remote']),
  image: z.string().nullable(),
  remoteUrl: z.string().nullable(),
  /** A remote server's settings (names of secrets, never their values). */
  remote: z.unknown().nullable(),
  transport: TransportSchema,
  status: ServerStatusSchema,
  statusDetail: z.string().nullable(),
  desiredState: z.enum(['running', 'stopped']),
  url: z.string(),
  proxyPort: z.number().int(),
  targetPort: z.number().int().nullable(),
  group: z.string(),
  permissionProfile: z.string(),
  secrets: z.array(SecretRefSchema),
  /** Authentication settings as stored (ToolHive's oidcConfig shape); {type:'none'} is local mode. */
  auth: z.unknown(),
  /** The Cedar policy set that authorizes the server's requests (null: no authorization). */
  policySet: z.string().nullable(),
  /** Token exchange toward the server (null: none; absent from older cores). */
  tokenExchange: TokenExchangeViewSchema.nullable().optional(),
  containerId: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ServerView = z.infer<typeof ServerViewSchema>;

/**
 * Whether a server's proxy takes tokens from a user's identity provider that Gatehouse signs in to for
 * its clients: a local (container) server with OIDC settings (inline or a shared profile; Kubernetes
 * service accounts are not users). `auth` is the stored settings in ToolHive's shape.
 */
export function signsInForCallers(s: { remote: boolean; auth: unknown }): boolean {
  const type = (s.auth as { type?: unknown } | null | undefined)?.type;
  return !s.remote && (type === 'inline' || type === 'configMap');
}

export const StatusChangeSchema = z.object({ status: ServerStatusSchema, detail: z.string().nullable(), exitCode: z.number().int().nullable(), at: z.string() });

export const ServerDetailSchema = ServerViewSchema.extend({
  health: z.record(z.string(), z.unknown()).optional(),
  history: z.array(StatusChangeSchema),
  /** Ids of the MCP clients whose files have an entry for this server. */
  clients: z.array(z.string()),
});
export type ServerDetail = z.infer<typeof ServerDetailSchema>;

const UsageSchema = z.array(z.object({ server: z.string(), target: z.string() }));

/** A secret as the API shows it: its name and where it is used, never its value. */
export const SecretViewSchema = z.object({ name: z.string(), usedBy: UsageSchema });
export type SecretView = z.infer<typeof SecretViewSchema>;

export const SecretsInfoSchema = z.object({
  provider: z.enum(['keychain', 'environment']),
  description: z.string(),
  writable: z.boolean(),
  secrets: z.array(SecretViewSchema),
  /** References whose secret is missing from the provider (servers that will not start). */
  missing: z.array(z.object({ name: z.string(), usedBy: UsageSchema })),
});
export type SecretsInfo = z.infer<typeof SecretsInfoSchema>;

export const IdpProfileViewSchema = z.object({
  name: z.string(),
  config: z.record(z.string(), z.unknown()),
  usedBy: z.array(z.string()),
  updatedAt: z.string(),
});
export type IdpProfileView = z.infer<typeof IdpProfileViewSchema>;

export const CoreInfoSchema = z.object({
  version: z.string(),
  pid: z.number().int(),
  home: z.string(),
  engine: z.discriminatedUnion('connected', [
    z.object({ connected: z.literal(true), name: z.string(), version: z.string() }),
    z.object({ connected: z.literal(false), error: z.string() }),
  ]),
});
export type CoreInfo = z.infer<typeof CoreInfoSchema>;

export const LogSourceSchema = z.enum(['container', 'proxy', 'core', 'audit']);

export const LogLineSchema = z.object({
  id: z.number().int(),
  ts: z.number(),
  server: z.string(),
  source: LogSourceSchema,
  level: z.string(),
  message: z.string(),
  fields: z.record(z.string(), z.unknown()).nullable(),
});
export type LogLine = z.infer<typeof LogLineSchema>;

export const RemovedSchema = z.object({ removed: z.string() });
export const OkSchema = z.object({ ok: z.literal(true) });

// ---- query strings -------------------------------------------------------------------------
// GET and DELETE inputs travel in the query string: each schema takes the typed value (the client's
// side) and its string form (what arrives), so one schema serves both ends.

const queryInt = (min: number, max: number) => z.union([z.number(), z.string().regex(/^\d{1,16}$/).transform(Number)]).pipe(z.number().int().min(min).max(max));
const queryFlag = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
const queryList = <T extends z.ZodEnum>(item: T) => z.union([z.array(item), item]).transform((v) => (Array.isArray(v) ? v : [v]));

export const LogLevelSchema = z.enum(['debug', 'info', 'warn', 'error']);
const id = queryInt(0, Number.MAX_SAFE_INTEGER);

const logFilterShape = {
  server: z.string().min(1).max(63).optional(),
  sources: queryList(LogSourceSchema).optional(),
  levels: queryList(LogLevelSchema).optional(),
  search: z.string().max(500).optional(),
  /** Audit events only: ToolHive's outcome (success, denied, error, ...), the MCP method, the tool/prompt/resource name. */
  outcome: z.string().min(1).max(32).optional(),
  method: z.string().min(1).max(128).optional(),
  target: z.string().min(1).max(2048).optional(),
  /** Audit events only: the event type, or a prefix ending in `*` (`oauth_*`: the steps of sign-ins at the authorization server). */
  type: z.string().regex(/^[a-z_]{1,64}\*?$/, 'an event type such as mcp_tool_call, or a prefix ending in * such as oauth_*').optional(),
  sinceTs: id.optional(),
  untilTs: id.optional(),
};

/** A window of log lines: the newest `limit` matching (a tail), or the oldest after `afterId` (`from: oldest`, paging forward). */
export const LogQuerySchema = z
  .object({
    ...logFilterShape,
    limit: queryInt(1, 10_000).optional(),
    afterId: id.optional(),
    beforeId: id.optional(),
    from: z.enum(['newest', 'oldest']).optional(),
  })
  .strict();
export type LogQuery = z.input<typeof LogQuerySchema>;

export const LogHistogramQuerySchema = z.object({ ...logFilterShape, buckets: queryInt(1, 1000).optional() }).strict();
export const LogHistogramSchema = z.object({
  bucketMs: z.number().int(),
  buckets: z.array(z.object({ ts: z.number(), debug: z.number().int(), info: z.number().int(), warn: z.number().int(), error: z.number().int() })),
});
export type LogHistogram = z.infer<typeof LogHistogramSchema>;

/** How many log lines the core keeps, and for how long (whichever limit is reached first). */
export const LogRetentionSchema = z.object({ maxLines: z.number().int().min(10_000).max(100_000_000), maxDays: z.number().int().min(1).max(3650) }).strict();
export const SettingsSchema = z.object({ logRetention: LogRetentionSchema }).strict();
export type Settings = z.infer<typeof SettingsSchema>;

export const NameSchema = z.string().min(1).max(128);
export const ForceSchema = queryFlag.optional();
export const VersionSchema = queryInt(1, 1_000_000_000).optional();

// ---- sign-ins to remote servers ------------------------------------------------------------

/** A sign-in as the app and the CLI see it: never a token; the claims of the access token when it is a JWT. */
export const SignInViewSchema = z.object({
  server: z.string(),
  credential: z.enum(['oauth', 'bearer', 'none']),
  state: z.enum(['signed-out', 'signed-in', 'needs-sign-in', 'retrying']),
  detail: z.string().nullable(),
  issuer: z.string().nullable(),
  expiresAt: z.number().nullable(),
  refreshAt: z.number().nullable(),
  scope: z.string().nullable(),
  claims: z.record(z.string(), z.unknown()).nullable(),
  lastRefresh: z.object({ at: z.number(), ok: z.boolean(), detail: z.string().nullable() }).nullable(),
  /** The server asks for more permission: the scopes the next sign-in asks for (the current one keeps working). */
  stepUp: z.array(z.string()).nullable(),
  /** A sign-in under way: the URL to open (shown too, for a browser on another machine). */
  pending: z.object({ authorizationUrl: z.string(), startedAt: z.number(), expiresAt: z.number(), browserOpened: z.boolean() }).nullable(),
});
export type SignInView = z.infer<typeof SignInViewSchema>;

/** The embedded authorization server as the app and the CLI see it: never a key, never a secret. */
export const AuthServerViewSchema = z.object({
  configured: z.boolean(),
  running: z.boolean(),
  issuer: z.string().nullable(),
  /** Where it listens on this machine (http://127.0.0.1:PORT); for an issuer elsewhere, where its front forwards to. */
  listensAt: z.string().nullable(),
  upstream: z
    .object({
      name: z.string(),
      type: z.enum(['oidc', 'oauth2']),
      url: z.string(),
      clientId: z.string().nullable(),
      registration: z.object({ clientId: z.string(), registeredAt: z.number(), expiresAt: z.number().nullable(), endpoint: z.string() }).nullable(),
    })
    .nullable(),
  audiences: z.array(z.string()),
  /** The audiences by server: each server's addresses (the first is the one its clients are given). */
  servers: z.array(z.object({ name: z.string(), urls: z.array(z.string()) })),
  /** The first signs; a retired one (retiredAt) is still published until the tokens it signed have expired. */
  signingKeys: z.array(z.object({ kid: z.string(), alg: z.string(), origin: z.enum(['own', 'settings']), createdAt: z.number().nullable(), retiredAt: z.number().nullable() })),
  lifespans: z.object({ accessTokenMs: z.number(), refreshTokenMs: z.number(), authCodeMs: z.number() }).nullable(),
  problem: z.string().nullable(),
});
export type AuthServerView = z.infer<typeof AuthServerViewSchema>;

/** ToolHive's embeddedAuthServer settings: the object (`settings`), or the text as pasted (`document`: YAML or JSON). */
export const AuthServerSetSchema = z
  .object({
    settings: z.unknown().optional(),
    document: z.string().max(256 * 1024).optional(),
    /** For an issuer not on this machine: the port on 127.0.0.1 its front (TLS proxy, tunnel) forwards to. */
    listenPort: z.number().int().min(1).max(65535).optional(),
  })
  .strict()
  .refine((b) => (b.settings === undefined) !== (b.document === undefined), { message: 'give either settings or document' });

/** A client the user allowed on the consent page: what it said it is, where its answers go, what it got. */
export const AuthServerClientViewSchema = z.object({
  clientId: z.string(),
  clientName: z.string().nullable(),
  redirectHosts: z.array(z.string()),
  scopes: z.array(z.string()),
  resource: z.string().nullable(),
  approvedAt: z.number(),
  /** Grants it holds now (each with its refresh token). */
  grants: z.number().int(),
});
export type AuthServerClientView = z.infer<typeof AuthServerClientViewSchema>;

/** A user the upstream identified: never a token, only whether upstream tokens are kept for them. */
export const AuthServerUserViewSchema = z.object({
  subject: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  upstream: z.string(),
  signedInAt: z.number(),
  upstreamTokens: z.boolean(),
  grants: z.number().int(),
  sessions: z.number().int(),
});
export type AuthServerUserView = z.infer<typeof AuthServerUserViewSchema>;

export const AuthServerRevokedSchema = z.object({ revoked: z.string(), grants: z.number().int(), sessions: z.number().int() });

/** "Test this provider": the upstream login without any token for anyone, and what it resolved. */
export const AuthServerTestViewSchema = z.object({
  state: z.enum(['idle', 'waiting', 'checking', 'done', 'failed']),
  upstream: z.string().nullable(),
  authorizationUrl: z.string().nullable(),
  browserOpened: z.boolean(),
  startedAt: z.number().nullable(),
  expiresAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  identity: z.object({ subject: z.string(), name: z.string().nullable(), email: z.string().nullable() }).nullable(),
  /** The claims of an access token Gatehouse would issue this user; `perToken` names those that differ per token (an example value here). */
  claims: z.record(z.string(), z.unknown()).nullable(),
  perToken: z.array(z.string()),
  /** The Cedar principal a server's policies see for such a token: Client::"<sub>", its THVGroup parents, its claim_* attributes (Cedar JSON). */
  cedar: z.object({ principal: z.string(), parents: z.array(z.string()), attributes: z.record(z.string(), z.unknown()) }).nullable(),
  error: z.string().nullable(),
});
export type AuthServerTestView = z.infer<typeof AuthServerTestViewSchema>;

/**
 * A token from Gatehouse's sign-in for a local server's callers (the bridge adds it to what it relays).
 * Only the core's own clients get it; it is never written to a client's file.
 */
export const CallerTokenSchema = z.object({ accessToken: z.string(), expiresAt: z.number().nullable() });
export type CallerToken = z.infer<typeof CallerTokenSchema>;

// ---- errors --------------------------------------------------------------------------------

export const ApiErrorCodeSchema = z.enum([
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'engine_unavailable',
  'image_unavailable',
  'keychain_unavailable',
  'client_config',
  'internal',
]);
export type ApiErrorCode = z.infer<typeof ApiErrorCodeSchema>;

/**
 * What the user can do about an error, as data: the CLI words it as a command, the app as a button.
 * Core messages say what went wrong and never name a CLI flag.
 */
export const ErrorHintSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('list-servers') }),
  z.object({ action: z.literal('choose-another-name'), server: z.string() }),
  z.object({ action: z.literal('stop-server'), server: z.string() }),
  z.object({ action: z.literal('start-server'), server: z.string() }),
  z.object({ action: z.literal('force') }),
  z.object({ action: z.literal('set-secret'), secret: z.string() }),
  z.object({ action: z.literal('add-idp'), profile: z.string() }),
  z.object({ action: z.literal('list-policies') }),
  z.object({ action: z.literal('policy-history'), policySet: z.string() }),
  z.object({ action: z.literal('detach-policy'), servers: z.array(z.string()) }),
  z.object({ action: z.literal('install-client'), client: z.string() }),
  z.object({ action: z.literal('stop-core') }),
  z.object({ action: z.literal('retry') }),
  z.object({ action: z.literal('sign-in'), server: z.string() }),
]);
export type ErrorHint = z.infer<typeof ErrorHintSchema>;

// ---- policies ------------------------------------------------------------------------------

export const PolicyProblemViewSchema = z.object({
  policy: z.number().int().optional(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  length: z.number().int().optional(),
  message: z.string(),
  severity: z.enum(['error', 'warning']),
});
export type PolicyProblemView = z.infer<typeof PolicyProblemViewSchema>;

export const PolicyCheckViewSchema = z.object({ ok: z.boolean(), errors: z.array(PolicyProblemViewSchema), warnings: z.array(PolicyProblemViewSchema) });
export type PolicyCheckView = z.infer<typeof PolicyCheckViewSchema>;

export const ApiErrorBodySchema = z.object({
  error: z.object({ code: ApiErrorCodeSchema, message: z.string(), hint: ErrorHintSchema.optional(), check: PolicyCheckViewSchema.optional() }),
});
export type ApiErrorBody = z.infer<typeof ApiErrorBodySchema>;

/** `strict`: refuse the version when Cedar's validator has findings (by default they are warnings, as ToolHive loads it). */
export const PolicySaveSchema = z
  .object({ name: NameSchema, config: z.unknown(), note: z.string().max(500).optional(), strict: z.boolean().optional(), acceptBrokenCases: z.boolean().optional(), source: PolicySourceSchema.optional() })
  .strict();
/** `server` / `servers`: also check `arg_<name>` reads against the arguments those servers' tools and prompts declare. */
export const PolicyCheckSchema = z.object({ config: z.unknown(), server: z.string().min(1).max(128).optional(), servers: z.array(z.string().min(1).max(128)).max(256).optional() }).strict();
export const PolicyFormatSchema = z.object({ config: z.unknown() }).strict();
export const PolicyFormattedSchema = z.object({ config: z.unknown() });

/** What the policy editor offers for these servers: what their lists declared, and the claim names callers' tokens carried. */
export const PolicyVocabularyRequestSchema = z.object({ servers: z.array(z.string().min(1).max(128)).max(256) }).strict();
export const PolicyVocabularySchema = z.object({
  servers: z.array(
    z.object({
      name: z.string(),
      tools: z.array(z.object({ name: z.string(), arguments: z.array(z.string()), hints: z.record(z.string(), z.boolean()) })),
      prompts: z.array(z.object({ name: z.string(), arguments: z.array(z.string()) })),
      resources: z.array(z.object({ uri: z.string(), name: z.string() })),
      claims: z.array(z.string()),
    }),
  ),
});
export type PolicyVocabulary = z.infer<typeof PolicyVocabularySchema>;
export const PolicyAttachSchema = z.object({ name: NameSchema, policySet: z.string().min(1).max(64).nullable() }).strict();

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

export const PolicySetViewSchema = z.object({
  name: z.string(),
  currentVersion: z.number().int(),
  config: z.unknown(),
  createdAt: z.string(),
  updatedAt: z.string(),
  servers: z.array(z.string()),
});
export type PolicySetView = z.infer<typeof PolicySetViewSchema>;

export const PolicyVersionViewSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  config: z.unknown(),
  note: z.string().nullable(),
  createdAt: z.string(),
  /** This version was saved from a file, kept as it was: its export in this syntax gives that file back byte for byte. */
  file: z.enum(['json', 'yaml']).nullable(),
});
export type PolicyVersionView = z.infer<typeof PolicyVersionViewSchema>;

/** A saved case decided by a version of its set: what it gets, and whether that is what it expects. */
export const CaseRunSchema = z.object({ id: z.number().int(), label: z.string(), expect: z.enum(['allow', 'deny']), got: z.enum(['allow', 'deny']), passed: z.boolean(), determining: z.array(z.number().int()) });
export type CaseRunView = z.infer<typeof CaseRunSchema>;

export const PolicySavedSchema = z.object({
  version: z.number().int(),
  check: PolicyCheckViewSchema,
  servers: z.array(z.string()),
  cases: z.array(CaseRunSchema),
  /** The syntax of the file kept with the version (null: none kept, or the file read as another config). */
  file: z.enum(['json', 'yaml']).nullable(),
});

/** A pasted or opened authz-config (JSON or YAML, or a ConfigMap holding one), read as `--authz-config` reads it. */
export const PolicyDocumentSchema = z.object({ text: z.string().max(2_000_000), fileName: z.string().max(255).optional() }).strict();
export const PolicyParsedSchema = z.object({ config: z.unknown() });
/** A version of a set as a file `--authz-config` takes (ToolHive's and Gatehouse's). */
/** Without `format`: the syntax of the file the version was saved from (JSON when none was kept). */
export const PolicyExportSchema = z.object({ name: NameSchema, version: VersionSchema, format: z.enum(['json', 'yaml']).optional() }).strict();
/** `original`: the text is the file the version was saved from, unchanged; otherwise written from the config. */
export const PolicyExportedSchema = z.object({ fileName: z.string(), contentType: z.string(), text: z.string(), format: z.enum(['json', 'yaml']), original: z.boolean() });

/** The callers of the recent decisions of these servers, one per subject, with the claims their token carried. */
export const RecentCallersRequestSchema = z.object({ servers: z.array(z.string().min(1).max(128)).max(256) }).strict();
export const RecentCallersSchema = z.array(z.object({ server: z.string(), auditId: z.string(), at: z.string(), caller: z.string(), claims: z.record(z.string(), z.unknown()) }));

/** "Who can call this tool?": the draft, and the request without its caller. */
export const PolicyWhoCanSchema = z.object({ config: z.unknown(), input: SimulationInputSchema.omit({ claims: true }) }).strict();
const CallerConditionSchema = z.object({ id: z.string(), index: z.number().int(), effect: z.enum(['permit', 'forbid']), words: z.string(), cedar: z.string() });
export const WhoCanViewSchema = z.object({
  decision: z.enum(['allow', 'deny']).nullable(),
  permits: z.array(CallerConditionSchema),
  forbids: z.array(CallerConditionSchema),
  unanswerable: z.array(z.object({ id: z.string(), index: z.number().int() })),
  /** What every caller's token must carry: policies reading it without `has` fail for a caller without it, and that denies the request. */
  requires: z.array(z.object({ attribute: z.string(), policies: z.array(z.number().int()) })),
});
export type WhoCanView = z.infer<typeof WhoCanViewSchema>;

/** The impact of a draft on the recent decisions of the set's servers. */
export const PolicyImpactRequestSchema = z.object({ name: NameSchema, config: z.unknown(), minutes: z.number().int().min(1).max(7 * 24 * 60).optional() }).strict();
export const PolicyImpactSchema = z.object({
  since: z.string(),
  replayed: z.number().int(),
  changes: z.array(
    z.object({
      auditId: z.string(),
      at: z.string(),
      server: z.string(),
      caller: z.string(),
      feature: z.enum(['tool', 'prompt', 'resource']),
      name: z.string(),
      before: z.enum(['allow', 'deny']),
      after: z.enum(['allow', 'deny']),
      decidedBefore: z.array(z.string()),
      decidesNow: z.array(z.string()),
      version: z.number().int().nullable(),
    }),
  ),
});
export type PolicyImpactView = z.infer<typeof PolicyImpactSchema>;

/** What authorization decided for one audit event and on what: the claims, each operation, the set version. */
export const DecisionRefSchema = z.object({ server: z.string().min(1).max(128), auditId: z.string().min(1).max(128) }).strict();
export const DecisionRecordSchema = z.object({
  auditId: z.string(),
  server: z.string(),
  at: z.string(),
  claims: z.record(z.string(), z.unknown()),
  ops: z.array(
    z.object({
      feature: z.enum(['tool', 'prompt', 'resource']),
      name: z.string(),
      arguments: z.record(z.string(), z.unknown()).optional(),
      annotations: z.record(z.string(), z.boolean()).optional(),
      allowed: z.boolean(),
      reasons: z.array(z.string()),
      errors: z.array(z.string()),
    }),
  ),
  outcome: z.enum(['allow', 'deny']),
  source: z.object({ set: z.string(), version: z.number().int() }).optional(),
});
export type DecisionRecordView = z.infer<typeof DecisionRecordSchema>;

/** A request saved with a policy set, and the decision it must get (run on every save of the set). */
export const PolicyCaseSchema = z.object({ id: z.number().int(), set: z.string(), label: z.string(), input: SimulationInputSchema, expect: z.enum(['allow', 'deny']), createdAt: z.string() });
export type PolicyCaseView = z.infer<typeof PolicyCaseSchema>;
export const PolicyCaseAddSchema = z.object({ name: NameSchema, label: z.string().trim().min(1).max(200), input: SimulationInputSchema, expect: z.enum(['allow', 'deny']) }).strict();
export const PolicyCaseRefSchema = z.object({ name: NameSchema, id: queryInt(1, Number.MAX_SAFE_INTEGER) }).strict();
/** `config`: a draft to decide them with; without, the set as it runs. */
export const PolicyCasesRunSchema = z.object({ name: NameSchema, config: z.unknown().optional() }).strict();

const EntityUidSchema = z.object({ type: z.string(), id: z.string() });

const DecisionViewSchema = z.object({
  decision: z.enum(['allow', 'deny']),
  reasons: z.array(z.string()),
  errors: z.array(z.object({ policy: z.string(), message: z.string() })),
});
export type DecisionView = z.infer<typeof DecisionViewSchema>;

export const SimulationViewSchema = z.object({
  allowed: z.boolean(),
  decision: DecisionViewSchema,
  determining: z.array(z.object({ id: z.string(), index: z.number().int(), text: z.string() })),
  reference: DecisionViewSchema,
  request: z.object({ principal: z.string(), action: z.string(), resource: z.string() }),
  /** The Cedar request (context included) and its entities, as the proxy builds them (Cedar's JSON forms). */
  cedar: z
    .object({
      request: z.object({ principal: EntityUidSchema, action: EntityUidSchema, resource: EntityUidSchema, context: z.record(z.string(), z.unknown()) }),
      entities: z.array(z.object({ uid: EntityUidSchema, attrs: z.record(z.string(), z.unknown()), parents: z.array(EntityUidSchema), tags: z.record(z.string(), z.unknown()).optional() })),
    })
    .optional(),
  problem: z.string().optional(),
});
export type SimulationView = z.infer<typeof SimulationViewSchema>;

// ---- MCP clients ---------------------------------------------------------------------------

export const RenameSchema = z.object({ name: NameSchema, newName: z.string().min(1).max(63) }).strict();

export const ClientSetupSchema = z.object({ id: NameSchema, group: z.string().min(1).max(63).optional() }).strict();

export const ClientStateViewSchema = z.enum(['not-installed', 'not-registered', 'in-sync', 'out-of-sync', 'error']);
export type ClientStateView = z.infer<typeof ClientStateViewSchema>;

/** One MCP client: installed? registered (for which server groups)? its file in sync? */
export const ClientViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  file: z.string(),
  installed: z.boolean(),
  groups: z.array(z.string()),
  state: ClientStateViewSchema,
  problems: z.array(z.string()),
  /** Gatehouse's entries in the file now. */
  entries: z.array(z.string()),
  note: z.string().optional(),
});
export type ClientView = z.infer<typeof ClientViewSchema>;

const ServerReasonSchema = z.array(z.object({ server: z.string(), reason: z.string() }));

/** What `client setup` / `client remove` changed. */
export const ClientChangeViewSchema = z.object({
  client: ClientViewSchema,
  written: z.array(z.string()),
  removed: z.array(z.string()),
  unchanged: z.array(z.string()),
  conflicts: ServerReasonSchema,
  unsupported: ServerReasonSchema,
  fileChanged: z.boolean(),
  created: z.boolean(),
  backup: z.string().optional(),
});
export type ClientChangeView = z.infer<typeof ClientChangeViewSchema>;

/** What a setup or removal would do to the client's file, before it is done (null: no file). */
export const ClientPreviewViewSchema = z.object({
  file: z.string(),
  before: z.string().nullable(),
  after: z.string().nullable(),
  written: z.array(z.string()),
  removed: z.array(z.string()),
  conflicts: ServerReasonSchema,
  unsupported: ServerReasonSchema,
});
export type ClientPreviewView = z.infer<typeof ClientPreviewViewSchema>;

// ---- secrets -------------------------------------------------------------------------------

export const SecretSetSchema = z.object({ name: NameSchema, value: z.string().min(1).max(1024 * 1024) }).strict();

// ---- push ----------------------------------------------------------------------------------

/** What the core pushes so nothing polls: a server's new state, a server gone, clients' sync state. */
export const CoreEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('server'), server: ServerViewSchema }),
  z.object({ type: z.literal('server-removed'), name: z.string() }),
  z.object({ type: z.literal('clients'), clients: z.array(ClientViewSchema) }),
  z.object({ type: z.literal('sign-in'), signIn: SignInViewSchema }),
  z.object({ type: z.literal('authserver'), authServer: AuthServerViewSchema }),
  z.object({ type: z.literal('authserver-test'), test: AuthServerTestViewSchema }),
  /** A policy set got a version (saved in the app, by `gatehouse policy`, a revert) or was deleted: read it again. */
  z.object({ type: z.literal('policy-set'), name: z.string() }),
]);
export type CoreEvent = z.infer<typeof CoreEventSchema>;
