import { MergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { useEffect, useRef } from 'react';
import { styleNonce } from './cedar-editor.js';
import { cedar } from './cedar-language.js';

/** Two versions of a set side by side (CodeMirror's merge view), read-only, unchanged stretches folded away. */
export function CedarDiff({ before, after, label, beforeTitle, afterTitle }: { before: string; after: string; label: string; beforeTitle: string; afterTitle: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const nonce = styleNonce();
    const side = (name: string) => [
      cedar(),
      EditorView.lineWrapping,
      EditorState.readOnly.of(true),
      EditorView.editable.of(false),
      EditorView.contentAttributes.of({ 'aria-label': name, tabindex: '0' }),
      ...(nonce ? [EditorView.cspNonce.of(nonce)] : []),
    ];
    const view = new MergeView({
      a: { doc: before, extensions: side(`${label}: ${beforeTitle}`) },
      b: { doc: after, extensions: side(`${label}: ${afterTitle}`) },
      parent: host.current!,
      collapseUnchanged: { margin: 2, minSize: 6 },
      gutter: true,
    });
    return () => view.destroy();
  }, [before, after, label]);
  return (
    <div role="group" aria-label={label}>
      <div className="policy-diff-titles" aria-hidden="true">
        <span>{beforeTitle}</span>
        <span>{afterTitle}</span>
      </div>
      <div className="policy-diff" ref={host} />
    </div>
  );
}
