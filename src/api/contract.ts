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
  source: 'container' | 'proxy' | 'core';
  level: string;
  message: string;
  fields: Record<string, unknown> | null;
}

export const LogQuerySchema = z.object({
  server: z.string().optional(),
  source: z.enum(['container', 'proxy', 'core']).array().optional(),
  search: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
  afterId: z.coerce.number().int().min(0).optional(),
  follow: z.boolean().optional(),
});

export type ApiErrorCode = 'bad_request' | 'unauthorized' | 'not_found' | 'conflict' | 'engine_unavailable' | 'image_unavailable' | 'keychain_unavailable' | 'internal';

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
}
