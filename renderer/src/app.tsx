import { useEffect, useState } from 'react';
import { ClientsPage } from './pages/clients.js';
import { LogsPage } from './pages/logs.js';
import { SecretsPage } from './pages/secrets.js';
import { ServersPage } from './pages/servers.js';
import { useServers } from './use-servers.js';

const PAGES = [
  { id: 'servers', title: 'Servers' },
  { id: 'clients', title: 'Clients' },
  { id: 'secrets', title: 'Secrets' },
  { id: 'logs', title: 'Logs' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

function pageFromHash(): PageId {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.find((p) => p.id === id)?.id ?? 'servers';
}

export function App() {
  const [page, setPage] = useState<PageId>(pageFromHash);
  const { servers, connection } = useServers();
  useEffect(() => {
    const onHash = () => setPage(pageFromHash());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = `${PAGES.find((p) => p.id === page)!.title} · Gatehouse`;
  }, [page]);
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
        {page === 'servers' && <ServersPage servers={servers} />}
        {page === 'clients' && <ClientsPage servers={servers} />}
        {page === 'secrets' && <SecretsPage servers={servers} />}
        {page === 'logs' && <LogsPage servers={servers} />}
      </main>
    </div>
  );
}
