import type { DetailedError, PolicyJson } from '@cedar-policy/cedar-wasm/nodejs';

/**
 * Numbers in MCP arguments and token claims reach Cedar as `decimal`s, as in ToolHive (Go decodes every
 * JSON number to float64). Cedar's validator cannot see that (arguments and claims are open-ended), so a
 * policy written as `resource.arg_a < 10` checks clean and then fails to evaluate on every request, and
 * `resource.arg_a == 1` silently never matches. This finds both shapes in a policy's JSON form.
 */

/** Operators that want a Long on both sides: a decimal operand is an evaluation error. */
const LONG_ONLY = new Set(['<', '<=', '>', '>=', '+', '-', '*']);
const EQUALITY = new Set(['==', '!=']);
const MIRRORED: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

interface AttributeRead {
  on: string;
  attr: string;
}

export interface NumberRead {
  op: string;
  read: AttributeRead;
  /** The Long literal on the other side, if there is one. */
  literal?: number;
}

function attributeRead(e: unknown): AttributeRead | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const dot = (e as Record<string, unknown>)['.'];
  if (typeof dot !== 'object' || dot === null) return undefined;
  const { left, attr } = dot as { left?: unknown; attr?: unknown };
  if (typeof attr !== 'string' || !/^(arg_|claim_)/.test(attr)) return undefined;
  const v = typeof left === 'object' && left !== null ? (left as { Var?: unknown }).Var : undefined;
  return typeof v === 'string' ? { on: v, attr } : undefined;
}

function longLiteral(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const v = (e as { Value?: unknown }).Value;
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
}

export function numberReads(json: PolicyJson): NumberRead[] {
  const out: NumberRead[] = [];
  const walk = (e: unknown): void => {
    if (typeof e !== 'object' || e === null) return;
    if (Array.isArray(e)) return e.forEach(walk);
    for (const [k, v] of Object.entries(e)) {
      if ((LONG_ONLY.has(k) || EQUALITY.has(k)) && typeof v === 'object' && v !== null) {
        const { left, right } = v as { left?: unknown; right?: unknown };
        const onLeft = attributeRead(left);
        const read = onLeft ?? attributeRead(right);
        const literal = onLeft ? longLiteral(right) : longLiteral(left);
        // `18 <= x` is `x >= 18`: the read is put on the left so the advice can be a method call on it.
        const op = onLeft ? k : (MIRRORED[k] ?? k);
        if (read && (LONG_ONLY.has(k) || literal !== undefined)) out.push({ op, read, ...(literal !== undefined ? { literal } : {}) });
      }
      walk(v);
    }
  };
  walk(json.conditions);
  return out;
}

const DECIMAL_METHOD: Record<string, string> = { '<': 'lessThan', '<=': 'lessThanOrEqual', '>': 'greaterThan', '>=': 'greaterThanOrEqual' };

const decimalLiteral = (n: number) => `decimal("${n}.0")`;

/** The finding as a validator-style error, placed at the first read of the attribute in the policy text. */
export function explainNumberRead(r: NumberRead, policyText: string): DetailedError {
  const path = `${r.read.on}.${r.read.attr}`;
  const what = r.read.attr.startsWith('arg_') ? `the argument "${r.read.attr.slice(4)}"` : `the claim "${r.read.attr.slice(6)}"`;
  const other = r.literal !== undefined ? decimalLiteral(r.literal) : 'decimal("10.0")';
  const method = DECIMAL_METHOD[r.op];
  let message: string;
  let help: string;
  if (EQUALITY.has(r.op)) {
    message = `\`${path} ${r.op} ${r.literal}\` compares ${what} with a Long, but numbers from MCP requests and tokens are Cedar decimals (as in ToolHive): a decimal never equals a Long, so this ${r.op === '==' ? 'is never true' : 'is always true'}`;
    help = `write \`${path} ${r.op} ${other}\``;
  } else {
    message = `\`${r.op}\` on \`${path}\` needs a Long, but numbers from MCP requests and tokens are Cedar decimals (as in ToolHive): this policy fails to evaluate whenever ${what} is a number, and an evaluation error denies the whole request`;
    help = method ? `write \`${path}.${method}(${other})\`` : 'compare decimals with lessThan, greaterThan and their OrEqual forms; Cedar has no decimal arithmetic';
  }
  const at = policyText.indexOf(`.${r.read.attr}`);
  const start = at >= 0 ? at + 1 : 0;
  return { message, help, code: null, url: null, severity: 'warning', sourceLocations: [{ start, end: start + r.read.attr.length, label: null }] };
}
