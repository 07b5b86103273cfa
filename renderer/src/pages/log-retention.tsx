import { useEffect, useState, type FormEvent } from 'react';
import type { Settings } from '../../../src/api/browser.js';
import { api, errorText } from '../api.js';

/** How many lines the core keeps, and how long: the oldest go first when either limit is reached. */
export function RetentionSettings() {
  const [settings, setSettings] = useState<Settings>();
  const [note, setNote] = useState<string>();
  useEffect(() => {
    void api.settings().then(setSettings, (err: unknown) => setNote(errorText(err)));
  }, []);
  const save = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    try {
      const next = await api.putSettings({ logRetention: { maxLines: Number(f.get('maxLines')), maxDays: Number(f.get('maxDays')) } });
      setSettings(next);
      setNote('Saved; older lines beyond it are gone now.');
    } catch (err) {
      setNote(errorText(err));
    }
  };
  return (
    <details className="retention">
      <summary>Retention</summary>
      {settings && (
        <form className="form inline" onSubmit={(e) => void save(e)} aria-label="Log retention">
          <label>
            Lines kept
            <input name="maxLines" type="number" min={10_000} max={100_000_000} step={10_000} defaultValue={settings.logRetention.maxLines} required />
          </label>
          <label>
            Days kept
            <input name="maxDays" type="number" min={1} max={3650} defaultValue={settings.logRetention.maxDays} required />
          </label>
          <button type="submit">Save</button>
        </form>
      )}
      {note && <p role="status">{note}</p>}
    </details>
  );
}
