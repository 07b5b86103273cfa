const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const WHOLE = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;

/**
 * A Go duration string, as ToolHive's settings and flags take them ("90s", "1h30m", "168h", "250ms"),
 * in milliseconds; undefined when the text is not one (no sign, no bare numbers, no spaces).
 */
export function goDurationMs(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(total);
}
