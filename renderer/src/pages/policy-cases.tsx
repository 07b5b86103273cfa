import type { CaseRunView, PolicyCaseView } from '../../../src/api/browser.js';
import { DataTable } from '../ui.js';

const METHOD = { tool: 'tools/call', prompt: 'prompts/get', resource: 'resources/read' } as const;

/** Who asks, in a case's row: the subject of its claims. */
function callerOf(c: PolicyCaseView): string {
  const sub = c.input.claims['sub'];
  return typeof sub === 'string' ? sub : '(no sub)';
}

/**
 * A set's saved cases: requests with the decision each must get, decided by the draft as it is typed
 * (and by every save, which a case getting another decision stops).
 */
export function PolicyCases(props: { cases: PolicyCaseView[]; runs: CaseRunView[] | undefined; onLoad(c: PolicyCaseView): void; onRemove(c: PolicyCaseView): void }) {
  if (props.cases.length === 0) {
    return <p className="sub">No saved cases yet: decide a request above and keep it as a case. Cases are decided by the draft as you type, and by every save.</p>;
  }
  const runOf = (id: number) => props.runs?.find((r) => r.id === id);
  const failing = props.runs?.filter((r) => !r.passed).length ?? 0;
  return (
    <>
      <p className="sub" role="status">
        {props.runs === undefined ? 'The cases are decided once the draft has no errors.' : failing ? `${failing} of ${props.cases.length} cases get another decision with this draft.` : `All ${props.cases.length} cases get the decision they expect with this draft.`}
      </p>
      <DataTable caption="Saved cases" columns={['Case', 'Request', 'Expects', 'With this draft']} actions>
        <tbody>
          {props.cases.map((c) => {
            const run = runOf(c.id);
            return (
              <tr key={c.id}>
                <th scope="row">{c.label}</th>
                <td>
                  <code>{callerOf(c)}</code> · {METHOD[c.input.feature]} <code>{c.input.name}</code>
                </td>
                <td>{c.expect === 'allow' ? 'Allowed' : 'Denied'}</td>
                <td>
                  {run === undefined ? (
                    <span className="sub">not decided</span>
                  ) : run.passed ? (
                    <span className="status running">As expected</span>
                  ) : (
                    <span className="status error">Gets {run.got === 'allow' ? 'allowed' : 'denied'}</span>
                  )}
                </td>
                <td className="actions">
                  <button type="button" className="small" onClick={() => props.onLoad(c)} aria-label={`Load ${c.label} into the simulator`}>
                    Load
                  </button>
                  <button type="button" className="small danger" onClick={() => props.onRemove(c)} aria-label={`Remove the case ${c.label}`}>
                    Remove
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </DataTable>
    </>
  );
}
