import type { AuthServerClientView, AuthServerUserView } from '../../../src/api/browser.js';
import { DataTable } from '../ui.js';
import { when } from './auth-server-words.js';

/**
 * Who may get tokens: the programs the user allowed on the consent page, and the users who signed in.
 * Revoking a program makes it sign in and ask again; signing a user out drops their grants, sessions
 * and the upstream tokens kept for them. Never a token on screen.
 */
export function ApprovedClients({ clients, onRevoke }: { clients: AuthServerClientView[] | undefined; onRevoke: (c: AuthServerClientView) => void }) {
  return (
    <div className="card" aria-labelledby="authserver-clients-title">
      <h3 id="authserver-clients-title">Programs you allowed</h3>
      {clients === undefined ? (
        <p>Loading…</p>
      ) : clients.length === 0 ? (
        <p className="empty">No program was allowed on the consent page yet.</p>
      ) : (
        <DataTable caption="Programs allowed on the consent page" columns={['Program', 'Answers go to', 'Server', 'Permissions', 'Allowed', 'Grants']} actions>
          <tbody>
            {clients.map((c) => (
              <tr key={c.clientId} data-client={c.clientId}>
                <th scope="row">
                  {c.clientName ?? 'A program'}
                  <span className="sub">
                    client <code className="wrap">{c.clientId}</code>
                  </span>
                </th>
                <td>{c.redirectHosts.join(', ') || '-'}</td>
                <td>{c.resource ? <code>{c.resource}</code> : <span className="sub">the only one</span>}</td>
                <td>{c.scopes.join(' ') || <span className="sub">none</span>}</td>
                <td className="nowrap">{when(c.approvedAt)}</td>
                <td>{c.grants}</td>
                <td className="actions">
                  <button type="button" className="danger" onClick={() => onRevoke(c)} aria-label={`Revoke ${c.clientName ?? c.clientId}`}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
    </div>
  );
}

export function SignedInUsers({ users, onRevoke }: { users: AuthServerUserView[] | undefined; onRevoke: (u: AuthServerUserView) => void }) {
  return (
    <div className="card" aria-labelledby="authserver-users-title">
      <h3 id="authserver-users-title">Signed-in users</h3>
      {users === undefined ? (
        <p>Loading…</p>
      ) : users.length === 0 ? (
        <p className="empty">Nobody signed in through the authorization server yet.</p>
      ) : (
        <DataTable caption="Users signed in through the authorization server" columns={['User', 'Email', 'Provider', 'Signed in', 'Upstream tokens', 'Grants']} actions>
          <tbody>
            {users.map((u) => (
              <tr key={u.subject} data-user={u.subject}>
                <th scope="row">
                  {u.name ?? u.subject}
                  {u.name && (
                    <span className="sub">
                      <code>{u.subject}</code>
                    </span>
                  )}
                </th>
                <td>{u.email ?? <span className="sub">none</span>}</td>
                <td>{u.upstream}</td>
                <td className="nowrap">{when(u.signedInAt)}</td>
                <td>{u.upstreamTokens ? 'Kept, sealed' : 'None'}</td>
                <td>{u.grants}</td>
                <td className="actions">
                  <button type="button" className="danger" onClick={() => onRevoke(u)} aria-label={`Sign out ${u.name ?? u.subject}`}>
                    Sign out
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
    </div>
  );
}
