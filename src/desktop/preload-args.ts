import { routes, streams } from '../api/index.js';

/**
 * What the window's preload knows of the route map. A sandboxed preload cannot import src/ at run time,
 * so the main process derives the route and stream names from src/api/routes.ts and passes them as
 * arguments of the window's renderer process (webPreferences.additionalArguments), where the preload
 * reads them from process.argv: a new route needs no second list anywhere.
 */
export const ROUTES_FLAG = '--gatehouse-routes';
export const STREAMS_FLAG = '--gatehouse-streams';

export function preloadArguments(): string[] {
  return [`${ROUTES_FLAG}=${Object.keys(routes).join(',')}`, `${STREAMS_FLAG}=${Object.keys(streams).join(',')}`];
}
