import type { NetworkSetting, SecretRef, TransportKind } from '../store/index.js';

/** A new server: a container image, or the URL of a remote MCP server. */
export interface RunRequest {
  /** The image of a server in a container. */
  image?: string;
  /** A remote MCP server's URL (https; http only on this machine): no container. */
  url?: string;
  /** How Gatehouse signs in to the remote server (ToolHive's --remote-auth-* settings). */
  remote?: unknown;
  name?: string;
  transport?: TransportKind;
  proxyPort?: number;
  targetPort?: number;
  env?: Record<string, string>;
  /** `--secret NAME,target=ENV`: references to secrets, resolved into the container's environment at start. */
  secrets?: SecretRef[];
  /** Authentication settings, ToolHive's oidcConfig shape (default: none, local mode). */
  auth?: unknown;
  /** Token exchange toward the server (ToolHive's tokenExchange, or a RunConfig's token_exchange_config). */
  tokenExchange?: unknown;
  /** ToolHive's authz-config: saved as a policy set named after the server (or `policySet`) and attached. */
  authzConfig?: unknown;
  /** The file authzConfig was read from, kept with the saved version so its export gives the file back. */
  authzSource?: { text: string; fileName?: string | undefined };
  /** Attach this existing policy set (or, with authzConfig, the name to save it under). */
  policySet?: string;
  /** Refuse an authzConfig with validator findings (`--strict`). */
  authzStrict?: boolean;
  /** `-v` flags, host paths already absolute (the CLI resolves them against its own working directory). */
  volumes?: string[];
  /** none | network | absolute path to a JSON profile */
  permissionProfile?: string;
  args?: string[];
  group?: string;
  memory?: string;
  cpus?: string;
  network?: NetworkSetting;
}
