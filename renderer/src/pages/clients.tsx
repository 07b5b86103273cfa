import { useCallback, useEffect, useRef, useState } from 'react';
import type { ClientChangeView, ClientPreviewView, ClientView, ServerView } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';
import { Notice, DataTable } from '../ui.js';
import { FileDiff } from './file-diff.js';

const STATE_TEXT: Record<ClientView['state'], string> = {
  'not-installed': 'Not installed',
  'not-registered': 'Not set up',
  'in-sync': 'Set up, in sync',
  'out-of-sync': 'Set up, out of sync',
  error: 'Problem',
};

/** Clients that read their file only when they start. */
const RESTART_TO_APPLY = new Set(['claude-desktop', 'claude-code', 'cursor', 'windsurf', 'zed']);

export function ClientsPage({ servers, pushed }: { servers: ServerView[] | undefined; pushed: ClientView[] | undefined }) {
  const [clients, setClients] = useState<ClientView[]>();
  const [result, setResult] = useState<{ kind: 'error' | 'info'; text: string }>();
  const load = useCallback(async () => setClients(await api.clients()), []);
  // The core pushes the clients' state when a file changes (here, on disk, or when servers come and go).
  useEffect(() => {
    if (pushed) setClients(pushed);
  }, [pushed]);
  // Servers come and go: their entries in the clients' files follow, so reload the states.
  const serverNames = servers?.map((s) => s.name).join(',');
  useEffect(() => {
    void load().catch((err: unknown) => setResult({ kind: 'error', text: errorText(err) }));
  }, [load, serverNames]);
  const [preview, setPreview] = useState<{ client: ClientView; op: 'setup' | 'remove'; view: ClientPreviewView }>();
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    if (preview) dialog.current?.showModal();
    else dialog.current?.close();
  }, [preview]);
  const ask = async (c: ClientView, op: 'setup' | 'remove') => {
    setResult(undefined);
    try {
      setPreview({ client: c, op, view: await api.previewClient({ id: c.id, op }) });
    } catch (err) {
      setResult({ kind: 'error', text: `${c.name}: ${errorText(err)}` });
    }
  };
  const change = async (c: ClientView, op: 'setup' | 'remove') => {
    setPreview(undefined);
    setResult(undefined);
    try {
      const ch: ClientChangeView = op === 'setup' ? await api.setupClient({ id: c.id }) : await api.removeClient({ id: c.id });
      const what = op === 'setup' ? `${c.name} is set up: ${ch.written.length} server(s) written to ${ch.client.file}` : `${c.name} no longer uses Gatehouse: ${ch.removed.length} entry(ies) removed`;
      const restart = ch.fileChanged && RESTART_TO_APPLY.has(c.id) ? ` Restart ${c.name} to apply.` : '';
      setResult({ kind: 'info', text: `${what}.${restart}` });
      await load();
    } catch (err) {
      setResult({ kind: 'error', text: `${c.name}: ${errorText(err)}` });
    }
  };
  return (
    <section aria-labelledby="clients-title">
      <div className="page-head">
        <h1 id="clients-title">Clients</h1>
      </div>
      <p className="lead">Set up an MCP client in one click: Gatehouse writes an entry for each of your servers into the client's own settings file, and keeps it in sync.</p>
      <Notice notice={result} />
      <dialog ref={dialog} className="preview" aria-labelledby="preview-title" onClose={() => setPreview(undefined)}>
        {preview && (
          <>
            <h2 id="preview-title">
              {preview.op === 'setup' ? `Set up ${preview.client.name}` : `Remove Gatehouse from ${preview.client.name}`}
            </h2>
            <p>
              {preview.view.before === null ? 'Creates' : 'Changes'} <code className="path">{preview.view.file}</code>
              {preview.view.written.length > 0 && <> — writes {preview.view.written.join(', ')}</>}
              {preview.view.removed.length > 0 && <> — removes {preview.view.removed.join(', ')}</>}. Entries of your own are left as they are.
            </p>
            {[...preview.view.conflicts, ...preview.view.unsupported].map((c) => (
              <p key={c.server} className="notice error">
                {c.reason}
              </p>
            ))}
            <FileDiff before={preview.view.before} after={preview.view.after} />
            <div className="buttons">
              <button type="button" onClick={() => setPreview(undefined)}>
                Cancel
              </button>
              <button type="button" className="primary" onClick={() => void change(preview.client, preview.op)}>
                {preview.op === 'setup' ? 'Write the file' : 'Remove the entries'}
              </button>
            </div>
          </>
        )}
      </dialog>
      {clients === undefined ? (
        <p>Loading…</p>
      ) : (
        <DataTable className="clients" caption="MCP clients on this computer" columns={['Client', 'State', 'Settings file']} actions>
          <tbody>
            {[...clients]
              .sort((a, b) => Number(b.installed) - Number(a.installed) || a.name.localeCompare(b.name))
              .map((c) => (
                <tr key={c.id} data-client={c.id} className={c.installed ? '' : 'muted'}>
                  <th scope="row">{c.name}</th>
                  <td>
                    <span className={`state ${c.state}`}>{STATE_TEXT[c.state]}</span>
                    {c.problems.map((p) => (
                      <span key={p} className="sub">
                        {p}
                      </span>
                    ))}
                  </td>
                  <td>
                    <code className="path">{c.file}</code>
                  </td>
                  <td className="actions">
                    {c.groups.length > 0 ? (
                      <button type="button" onClick={() => void ask(c, 'remove')} aria-label={`Remove Gatehouse from ${c.name}`}>
                        Remove
                      </button>
                    ) : (
                      <button type="button" className="primary" onClick={() => void ask(c, 'setup')} disabled={!c.installed} aria-label={`Set up ${c.name}`}>
                        Set up
                      </button>
                    )}
                  </td>
                </tr>
              ))}
          </tbody>
        </DataTable>
      )}
    </section>
  );
}
