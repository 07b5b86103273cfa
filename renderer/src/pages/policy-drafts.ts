/**
 * Unsaved drafts of the policy editor, kept while the app is open: leaving the Policies page (for the
 * log viewer, say) and coming back finds the draft as it was. Closing or reloading the window with a
 * draft asks first.
 */
export interface PolicyDraft {
  /** The version the draft was begun from. */
  base: number;
  text: string;
  /** A file opened into the editor: its options and entities, and its text (kept with the version when saved unedited). */
  imported?: { config: unknown; key: number; source?: { text: string; fileName: string } };
}

const drafts = new Map<string, PolicyDraft>();

export const policyDrafts = {
  get: (set: string): PolicyDraft | undefined => drafts.get(set),
  has: (set: string): boolean => drafts.has(set),
  keep(set: string, draft: PolicyDraft): void {
    drafts.set(set, draft);
  },
  drop(set: string): void {
    drafts.delete(set);
  },
};

window.addEventListener('beforeunload', (e) => {
  if (drafts.size === 0) return;
  e.preventDefault();
});
