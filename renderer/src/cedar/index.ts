// The policy editor: Cedar for CodeMirror 6 (grammar, folding, completion, hover) and its React wrapper.
export { CedarEditor, type CedarEditorProps, type Diagnostic } from './cedar-editor.js';
export { cedar } from './cedar-language.js';
export { cedarCompletions, cedarHover } from './cedar-assist.js';
export { featuresOf, type Features } from './cedar-vocabulary.js';
export { CedarDiff } from './cedar-diff.js';
