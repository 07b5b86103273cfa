import type { IncomingMessage, ServerResponse } from 'node:http';

export type PublicRouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

interface Route {
  path: string;
  /** The path itself, or (prefix) anything under it too. */
  prefix: boolean;
  handler: PublicRouteHandler;
}

/**
 * The routes a proxy answers without authentication (protected resource metadata, /health, later the
 * embedded authorization server's endpoints), kept in one place so that each of them sits behind the
 * same Host/Origin check as MCP traffic and none can be added on a side path.
 */
export class PublicRoutes {
  private readonly routes: Route[] = [];

  /** `/health` matches only itself; `/.well-known/` with prefix matches everything below it. */
  add(path: string, handler: PublicRouteHandler, opts: { prefix?: boolean } = {}): this {
    this.routes.push({ path, prefix: opts.prefix === true, handler });
    return this;
  }

  find(pathname: string): PublicRouteHandler | undefined {
    for (const r of this.routes) if (r.prefix ? pathname.startsWith(r.path) : pathname === r.path) return r.handler;
    return undefined;
  }
}
