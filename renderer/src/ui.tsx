import { useCallback, useState, type ReactNode } from 'react';
import { errorText } from './api.js';

export interface NoticeValue {
  kind: 'error' | 'info';
  text: string;
}

/** What an action said: an error is an alert (read at once), anything else a status. */
export function Notice({ notice }: { notice: NoticeValue | undefined }) {
  if (!notice) return null;
  return (
    <p className={`notice ${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'}>
      {notice.text}
    </p>
  );
}

/**
 * A page's notice and the way its actions report into it: `act(op, done)` clears the notice, runs the
 * action, and shows `done` or the error in words (prefixed with `what`, when given).
 */
export function useNotice(): [NoticeValue | undefined, (n: NoticeValue | undefined) => void, (op: () => Promise<unknown>, done?: string, what?: string) => Promise<boolean>] {
  const [notice, setNotice] = useState<NoticeValue>();
  const act = useCallback(async (op: () => Promise<unknown>, done?: string, what?: string) => {
    setNotice(undefined);
    try {
      await op();
      if (done) setNotice({ kind: 'info', text: done });
      return true;
    } catch (err) {
      setNotice({ kind: 'error', text: what ? `${what}: ${errorText(err)}` : errorText(err) });
      return false;
    }
  }, []);
  return [notice, setNotice, act];
}

/** A table with a caption for screen readers and column headers; `actions` adds the unnamed last column for buttons. */
export function DataTable({ caption, columns, actions = false, className, children }: { caption: string; columns: readonly string[]; actions?: boolean; className?: string; children: ReactNode }) {
  return (
    <table className={className}>
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
          {actions && (
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          )}
        </tr>
      </thead>
      {children}
    </table>
  );
}

/** Text with `quoted` names (Cedar's and the check's messages, the studio's help), the names as code. */
export function withCode(text: string): ReactNode[] {
  return text.split('`').map((part, i) => (i % 2 === 1 ? <code key={i}>{part}</code> : part));
}

/** A moment as the log viewer writes it (24-hour clock), so the same time reads the same on every page. */
export function when(at: string | number): string {
  return new Date(at).toLocaleString([], { hour12: false });
}

/** The time of day alone, as the log viewer writes it. */
export function timeOfDay(at: string | number): string {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}
