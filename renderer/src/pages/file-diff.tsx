import { diffLines } from 'diff';

const CONTEXT = 3;

/** A file before and after, as a unified diff a person reads: changed lines with a few lines around them. */
export function FileDiff({ before, after }: { before: string | null; after: string | null }) {
  const parts = diffLines(before ?? '', after ?? '');
  const lines: { kind: 'add' | 'del' | 'same' | 'gap'; text: string }[] = [];
  parts.forEach((p, i) => {
    const text = p.value.replace(/\n$/, '').split('\n');
    if (p.added) text.forEach((t) => lines.push({ kind: 'add', text: t }));
    else if (p.removed) text.forEach((t) => lines.push({ kind: 'del', text: t }));
    else {
      const head = i === 0 ? [] : text.slice(0, CONTEXT);
      const tail = i === parts.length - 1 ? [] : text.slice(-CONTEXT);
      if (text.length <= head.length + tail.length + 1) text.forEach((t) => lines.push({ kind: 'same', text: t }));
      else {
        head.forEach((t) => lines.push({ kind: 'same', text: t }));
        lines.push({ kind: 'gap', text: `… ${text.length - head.length - tail.length} unchanged lines` });
        tail.forEach((t) => lines.push({ kind: 'same', text: t }));
      }
    }
  });
  if (!lines.some((l) => l.kind === 'add' || l.kind === 'del')) return <p className="sub">The file stays as it is.</p>;
  return (
    <pre className="diff" tabIndex={0} aria-label="Changes to the file">
      {lines.map((l, i) => (
        <span key={i} className={`diff-${l.kind}`}>
          {l.kind === 'add' ? '+ ' : l.kind === 'del' ? '- ' : l.kind === 'gap' ? '' : '  '}
          {l.text}
          {'\n'}
        </span>
      ))}
    </pre>
  );
}
