import type { Db } from './database.js';

/** A request saved with a policy set, and the decision it must get. */
export interface PolicyCaseRecord {
  id: number;
  set: string;
  label: string;
  /** The simulator's input (claims, feature, name, arguments, server), validated by the API. */
  input: unknown;
  expect: 'allow' | 'deny';
  createdAt: string;
}

interface Row {
  id: number;
  set_name: string;
  label: string;
  input_json: string;
  expect: 'allow' | 'deny';
  created_at: string;
}

const of = (r: Row): PolicyCaseRecord => ({ id: r.id, set: r.set_name, label: r.label, input: JSON.parse(r.input_json) as unknown, expect: r.expect, createdAt: r.created_at });

/** The cases of each policy set; they go with the set (ON DELETE CASCADE). */
export class PolicyCasesRepository {
  constructor(private readonly db: Db) {}

  list(set: string): PolicyCaseRecord[] {
    return (this.db.prepare('SELECT id, set_name, label, input_json, expect, created_at FROM policy_cases WHERE set_name = ? ORDER BY id').all(set) as Row[]).map(of);
  }

  add(set: string, label: string, input: unknown, expect: 'allow' | 'deny', now = new Date().toISOString()): PolicyCaseRecord {
    const info = this.db.prepare('INSERT INTO policy_cases (set_name, label, input_json, expect, created_at) VALUES (?, ?, ?, ?, ?)').run(set, label, JSON.stringify(input), expect, now);
    return { id: Number(info.lastInsertRowid), set, label, input, expect, createdAt: now };
  }

  remove(set: string, id: number): boolean {
    return this.db.prepare('DELETE FROM policy_cases WHERE set_name = ? AND id = ?').run(set, id).changes > 0;
  }
}
