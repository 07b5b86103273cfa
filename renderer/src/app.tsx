import { useEffect, useRef, useState } from 'react';
import { ClientsPage } from './pages/clients.js';
import { IdentityPage } from './pages/identity.js';
import { LogsPage } from './pages/logs.js';
import { PoliciesPage } from './pages/policies.js';
import { SecretsPage } from './pages/secrets.js';
import { ServerDetailPage } from './pages/server-detail.js';
import { ServersPage } from './pages/servers.js';
import { useServers } from './use-servers.js';

const PAGES = [
  { id: 'servers', title: 'Servers' },
  { id: 'clients', title: 'Clients' },
  { id: 'secrets', title: 'Secrets' },
  { id: 'identity', title: 'Identity' },
  { id: 'policies', title: 'Policies' },
  { id: 'logs', title: 'Logs' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

interface Route {
  page: PageId;
  /** `#/servers/<name>`: one server's page. */
  server?: string;
  /** `#/logs?server=<name>`: the viewer's first filter. */
  params: URLSearchParams;
}

function routeFromHash(): Route {
  const [path = '', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [id, sub] = path.split('/');
  const page = PAGES.find((p) => p.id === id)?.id ?? 'servers';
  return { page, ...(page === 'servers' && sub ? { server: decodeURIComponent(sub) } : {}), params: new URLSearchParams(query) };
}

export function App() {
  const [route, setRoute] = useState<Route>(routeFromHash);
  const page = route.page;
  const navigated = useRef(false);
  const { servers, clients, signIns, connection } = useServers();
  useEffect(() => {
    const onHash = () => setRoute(routeFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = `${route.server ?? PAGES.find((p) => p.id === page)!.title} · Gatehouse`;
    // After a navigation (not the first load), focus moves to the new page, as a screen reader expects.
    if (navigated.current) document.getElementById('main')?.focus();
    navigated.current = true;
  }, [page, route.server]);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="sidebar">
        <div className="brand" aria-hidden="true">
          <span className="mark">▣</span> Gatehouse
        </div>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a href={`#/${p.id}`} aria-current={p.id === page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <p className={`connection ${connection}`} role="status">
          {connection === 'live' ? 'Connected to the core' : connection === 'connecting' ? 'Connecting…' : 'Connection to the core lost, retrying…'}
        </p>
      </header>
      <main id="main" tabIndex={-1}>
        {page === 'servers' && route.server === undefined && <ServersPage servers={servers} />}
        {page === 'servers' && route.server !== undefined && <ServerDetailPage key={route.server} name={route.server} live={servers?.find((s) => s.name === route.server)} signIn={signIns[route.server]} />}
        {page === 'clients' && <ClientsPage servers={servers} pushed={clients} />}
        {page === 'secrets' && <SecretsPage servers={servers} />}
        {page === 'identity' && <IdentityPage />}
        {page === 'policies' && <PoliciesPage params={route.params} />}
        {page === 'logs' && <LogsPage servers={servers} initialServer={route.params.get('server') ?? undefined} />}
      </main>
    </div>
  );
}
