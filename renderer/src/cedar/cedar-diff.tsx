import { MergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { useEffect, useRef } from 'react';
import { styleNonce } from './cedar-editor.js';
import { cedar } from './cedar-language.js';

/** Two versions of a set side by side (CodeMirror's merge view), read-only, unchanged stretches folded away. */
export function CedarDiff({ before, after, label }: { before: string; after: string; label: string }) {
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
      a: { doc: before, extensions: side(`${label}: before`) },
      b: { doc: after, extensions: side(`${label}: after`) },
      parent: host.current!,
      collapseUnchanged: { margin: 2, minSize: 6 },
      gutter: true,
    });
    return () => view.destroy();
  }, [before, after, label]);
  return <div className="policy-diff" ref={host} role="group" aria-label={label} />;
}
