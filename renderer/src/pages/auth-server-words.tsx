/** How the authorization server's pages say durations, times and Cedar values. */

/** A lifespan as people say it: "1 hour", "7 days", "10 minutes". */
export function lifespanText(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1000, 'second'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}${ms / size === 1 ? '' : 's'}`;
  }
  return `${ms} ms`;
}

export function when(at: number): string {
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A value in Cedar's JSON form (decimals as {__extn}) written as a policy would write it. */
export function cedarText(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(cedarText).join(', ')}]`;
  if (typeof v === 'object' && v !== null) {
    const ext = (v as { __extn?: { fn?: unknown; arg?: unknown } }).__extn;
    if (ext && typeof ext.fn === 'string') return `${ext.fn}(${JSON.stringify(ext.arg)})`;
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}: ${cedarText(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}
