import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, toggleComment } from '@codemirror/commands';
import { bracketMatching, foldGutter, foldKeymap, indentOnInput } from '@codemirror/language';
import { linter, lintGutter, lintKeymap, type Diagnostic } from '@codemirror/lint';
import { highlightSelectionMatches, searchKeymap } from '@codemirror/search';
import { EditorState, StateEffect, StateField, type Range } from '@codemirror/state';
import { Decoration, drawSelection, EditorView, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers, type DecorationSet } from '@codemirror/view';
import { useEffect, useRef } from 'react';
import { cedarCompletions, cedarHover } from './cedar-assist.js';
import { cedar } from './cedar-language.js';
import type { Features } from './cedar-vocabulary.js';

export type { Diagnostic };

/** Marks ranges of the document (the policies that decided a simulated request). */
const setMarks = StateEffect.define<{ from: number; to: number }[]>();
const marks = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(value, tr) {
    let next = value.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(setMarks)) {
        const ranges: Range<Decoration>[] = [];
        for (const r of e.value) {
          const from = Math.max(0, Math.min(r.from, tr.state.doc.length));
          const to = Math.max(from, Math.min(r.to, tr.state.doc.length));
          for (let pos = from; pos <= to; ) {
            const line = tr.state.doc.lineAt(pos);
            ranges.push(Decoration.line({ class: 'cm-determining' }).range(line.from));
            pos = line.to + 1;
          }
        }
        next = Decoration.set(ranges, true);
      }
    }
    return next;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/**
 * Chrome types a no-break space into the editable text in some places (after a closed quote); a user
 * typing a space means a plain one. Typed no-break spaces become spaces (pasted text is left as it is).
 */
const plainSpaces = EditorState.transactionFilter.of((tr) => {
  if (!tr.docChanged || !tr.isUserEvent('input.type')) return tr;
  const fixes: { from: number; to: number; insert: string }[] = [];
  tr.changes.iterChanges((_fa, _ta, fromB, _tb, inserted) => {
    const text = inserted.toString();
    for (let i = text.indexOf('\u00a0'); i >= 0; i = text.indexOf('\u00a0', i + 1)) fixes.push({ from: fromB + i, to: fromB + i + 1, insert: ' ' });
  });
  return fixes.length ? [tr, { changes: fixes, sequential: true }] : tr;
});

/** The nonce the core gave this page load for <style> elements (the CSP allows only those). */
export function styleNonce(): string | undefined {
  const v = document.querySelector('meta[name="gatehouse-style-nonce"]')?.getAttribute('content');
  return v && !v.startsWith('__') ? v : undefined;
}

export interface CedarEditorProps {
  /** The document to show; a new `docKey` replaces what is in the editor with it. */
  doc: string;
  docKey: string;
  /** The editor's accessible name. */
  label: string;
  onChange(text: string): void;
  /** The diagnostics of a text (the core's check), asked for shortly after each change. */
  check(text: string): Promise<Diagnostic[]>;
  features: Features;
  /** Ranges to mark (the policies that decided a simulated request). */
  marked?: { from: number; to: number }[];
  /** The view, for the page's commands (format, go to a problem). */
  onView?(view: EditorView | undefined): void;
  /** Ctrl+S (Cmd+S): the page's save. */
  onSave?(): void;
}

/** Cedar in CodeMirror 6: highlighting, folding, brackets, comments, completion and hover help, and the core's diagnostics. */
export function CedarEditor(props: CedarEditorProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView>(undefined);
  // Read through refs: the extensions are made once, the page's callbacks and features change.
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: props.doc,
        extensions: [
          lineNumbers(),
          foldGutter(),
          lintGutter(),
          highlightActiveLineGutter(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          closeBrackets(),
          highlightActiveLine(),
          highlightSelectionMatches(),
          cedar(),
          autocompletion({ override: [cedarCompletions(() => latest.current.features)], icons: false }),
          cedarHover(() => latest.current.features),
          // Asked 40 ms after the last key: soon enough to show a problem as it is typed, not on every key of a word.
          linter((ev) => latest.current.check(ev.state.doc.toString()), { delay: 40 }),
          marks,
          // Tab is left to move focus (keyboard users leave the editor with it); Mod-/ toggles comments.
          keymap.of([...closeBracketsKeymap, ...defaultKeymap, { key: 'Mod-/', run: toggleComment }, { key: 'Mod-s', preventDefault: true, run: () => (latest.current.onSave?.(), true) }, ...searchKeymap, ...historyKeymap, ...foldKeymap, ...completionKeymap, ...lintKeymap]),
          // ToolHive's policies are often one long line each: wrapped, not scrolled sideways.
          EditorView.lineWrapping,
          plainSpaces,
          ...(styleNonce() ? [EditorView.cspNonce.of(styleNonce()!)] : []),
          // tabindex: axe (and some readers) count a contenteditable as focusable only with it; it adds no tab stop.
          EditorView.contentAttributes.of({ 'aria-label': props.label, tabindex: '0' }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) latest.current.onChange(u.state.doc.toString());
          }),
        ],
      }),
    });
    view.current = v;
    latest.current.onView?.(v);
    return () => {
      latest.current.onView?.(undefined);
      v.destroy();
      view.current = undefined;
    };
    // Made once per document key; the document itself is replaced below.
  }, []);

  useEffect(() => {
    const v = view.current;
    if (!v || v.state.doc.toString() === props.doc) return;
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: props.doc } });
  }, [props.docKey]);

  useEffect(() => {
    view.current?.dispatch({ effects: setMarks.of(props.marked ?? []) });
  }, [props.marked]);

  return <div className="policy-editor" ref={host} />;
}
