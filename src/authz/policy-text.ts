/**
 * A policy set's policies (ToolHive's `cedar.policies`, one string each) as the one text the policy
 * editor shows, and back. Policies are joined by a blank line; a text is split after each `;` outside
 * strings and comments, a comment on the same line staying with the policy it follows. Joining the
 * split of a joined text gives it back unchanged, so the positions the core's check reports in a
 * policy map to the editor exactly. Pure string work: the editor (in the browser) and the core share it.
 */

/** Where a policy sits in the joined text: [from, to). */
export interface PolicySpan {
  from: number;
  to: number;
}

export const POLICY_SEPARATOR = '\n\n';

export function joinPolicies(policies: readonly string[]): { text: string; spans: PolicySpan[] } {
  const spans: PolicySpan[] = [];
  let at = 0;
  for (const [i, p] of policies.entries()) {
    if (i > 0) at += POLICY_SEPARATOR.length;
    spans.push({ from: at, to: at + p.length });
    at += p.length;
  }
  return { text: policies.join(POLICY_SEPARATOR), spans };
}

/** Whether a piece of text holds nothing but spaces and `//` comments. */
function onlyComments(text: string): boolean {
  return text.split('\n').every((line) => line.trim() === '' || line.trim().startsWith('//'));
}

export function splitPolicies(text: string): { policies: string[]; spans: PolicySpan[] } {
  const spans: PolicySpan[] = [];
  let start = -1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (start < 0 && !/\s/.test(c)) start = i;
    if (c === '"') {
      // A string, with its escapes; an unterminated one runs to the end (the check says so).
      i++;
      while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === ';') {
      let end = i + 1;
      // A comment after the `;` on the same line belongs to this policy.
      const rest = /^[ \t]*\/\/[^\n]*/.exec(text.slice(end));
      if (rest) end += rest[0].length;
      spans.push({ from: start, to: end });
      start = -1;
      i = end;
      continue;
    }
    i++;
  }
  if (start >= 0) {
    const tail = text.slice(start).trimEnd();
    // Comments after the last policy stay with it; anything else is a policy still being written.
    if (onlyComments(tail) && spans.length > 0) spans[spans.length - 1]!.to = start + tail.length;
    else if (tail !== '') spans.push({ from: start, to: start + tail.length });
  }
  return { policies: spans.map((s) => text.slice(s.from, s.to)), spans };
}

/** The offset of a 1-based line and column in a text (clamped to it). */
export function offsetOf(text: string, line: number, column: number): number {
  let at = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) return text.length;
    at = nl + 1;
  }
  const lineEnd = text.indexOf('\n', at);
  return Math.min(at + Math.max(0, column - 1), lineEnd < 0 ? text.length : lineEnd);
}

/** What the core's check says about a policy (policy number, 1-based line and column in it, span length). */
export interface ProblemAt {
  policy?: number;
  line?: number;
  column?: number;
  length?: number;
  severity: 'error' | 'warning';
  message: string;
}

/** A problem placed in the joined text: its range, and its line and column there. */
export interface PlacedProblem {
  from: number;
  to: number;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
}

/**
 * Where a problem the check reports in policy N sits in the joined text (`policies` and `spans` are
 * the split of `text`). A problem of the whole policy covers it; one of the whole set sits at the start.
 */
export function placeProblem(p: ProblemAt, policies: readonly string[], spans: readonly PolicySpan[], text: string): PlacedProblem {
  const span = p.policy !== undefined ? spans[p.policy] : undefined;
  let from = 0;
  let to = 0;
  if (span) {
    const own = policies[p.policy!] ?? '';
    from = span.from + (p.line !== undefined ? offsetOf(own, p.line, p.column ?? 1) : 0);
    to = p.line !== undefined ? Math.min(span.to, from + Math.max(1, p.length ?? 1)) : span.to;
  }
  const before = text.slice(0, from).split('\n');
  return { from, to: Math.max(from, to), line: before.length, column: (before.at(-1)?.length ?? 0) + 1, severity: p.severity, message: p.message };
}
