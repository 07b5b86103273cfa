import type { McpBackend } from '../../proxy/index.js';
import type { NewServer, ServerRecord } from '../../store/index.js';
import type { RunRequest } from '../run-request.js';

/** A server's backend in service, and what to let go of when it is taken out (attachments, log follows). */
export interface Running {
  backend: McpBackend;
  release(): void;
  /** Said in the "is running" line: how it came up (adopted a running container, say). */
  note?: string;
}

/** The kind's part of a new server's definition, and the step that makes it exist (a container). */
export interface Definition {
  fields: Pick<NewServer, 'image' | 'url' | 'transport' | 'args' | 'env' | 'secrets' | 'volumes' | 'permissionProfile' | 'profile' | 'targetPort' | 'memoryBytes' | 'nanoCpus' | 'networkSetting'> & { remote?: unknown };
  /** Called once the row exists; a throw rolls the whole run back. */
  create(record: ServerRecord): Promise<void>;
  /** For the "Created server" line: what it is. */
  summary: string;
}

/**
 * What differs between servers in containers and remote servers, behind one interface: the manager
 * owns proxies, policies, status and serialization, a kind owns what runs behind the proxy.
 */
export interface ServerKind {
  /** Checks a run request and works out the kind's fields; nothing is created yet. */
  define(req: RunRequest, name: string, takenPorts: Set<number>): Promise<Definition>;
  /**
   * Brings the backend up. `adopting`: after a core restart (keep what still runs). `recreate`: an
   * explicit start (current settings and secrets apply).
   */
  up(s: ServerRecord, how: { adopting: boolean; recreate: boolean }): Promise<Running>;
  /** After the backend is out of service: stop what still runs (a container). */
  stopped(s: ServerRecord): Promise<void>;
  /** The server is removed: delete what it owns (its container, its sign-in). */
  removed(s: ServerRecord): Promise<void>;
  /** Before the row is renamed: what carries the old name (a container's labels, a sign-in) follows. */
  renaming(s: ServerRecord, newName: string): Promise<void>;
  /** Why a start failed, in words for the status (a container's exit code and last lines). */
  failureDetail(s: ServerRecord, err: unknown): Promise<{ message: string; exitCode: number | null }>;
}
