import { useEffect, useState } from 'react';
import type { ClientView, ServerView, SignInView } from '../../src/api/browser.js';
import { api } from './api.js';

export type Connection = 'connecting' | 'live' | 'lost';

/**
 * Servers as the core sees them: loaded once, then kept current by the core's push channel (no
 * polling). After a lost connection the list is reloaded, since events may have been missed.
 */
export function useServers(): { servers: ServerView[] | undefined; clients: ClientView[] | undefined; signIns: Record<string, SignInView>; connection: Connection } {
  const [servers, setServers] = useState<ServerView[]>();
  // The clients' sync state as last pushed (undefined until the core pushes one).
  const [clients, setClients] = useState<ClientView[]>();
  const [connection, setConnection] = useState<Connection>('connecting');
  // Sign-ins of remote servers as last pushed (a page loads its own first, then follows these).
  const [signIns, setSignIns] = useState<Record<string, SignInView>>({});
  useEffect(() => {
    const ac = new AbortController();
    let delay = 500;
    const loop = async () => {
      while (!ac.signal.aborted) {
        try {
          setServers(await api.listServers());
          setConnection('live');
          delay = 500;
          await api.follow(
            'events',
            {},
            (e) => {
              if (e.type === 'server') setServers((list) => upsert(list ?? [], e.server));
              else if (e.type === 'server-removed') setServers((list) => (list ?? []).filter((s) => s.name !== e.name));
              else if (e.type === 'clients') setClients(e.clients);
              else if (e.type === 'sign-in') setSignIns((all) => ({ ...all, [e.signIn.server]: e.signIn }));
            },
            ac.signal,
          );
        } catch {
          // fall through to the reconnect below
        }
        if (ac.signal.aborted) return;
        setConnection('lost');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    };
    void loop();
    return () => ac.abort();
  }, []);
  return { servers, clients, signIns, connection };
}

function upsert(list: ServerView[], s: ServerView): ServerView[] {
  const i = list.findIndex((x) => x.name === s.name);
  if (i === -1) return [...list, s].sort((a, b) => a.name.localeCompare(b.name));
  const next = list.slice();
  next[i] = s;
  return next;
}
