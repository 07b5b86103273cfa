import { memo, useState, type KeyboardEvent } from 'react';
import type { LogHistogram } from '../../../src/api/browser.js';

const LEVELS = ['error', 'warn', 'info', 'debug'] as const;

function label(ts: number, bucketMs: number): string {
  const d = new Date(ts);
  return bucketMs >= 86_400_000 ? d.toLocaleDateString() : d.toLocaleString([], { hour12: false });
}

/**
 * Lines per level over time. A click (or Enter on the bar picked with the arrow keys) shows the lines up
 * to the end of that bar.
 */
export const Histogram = memo(function Histogram({ data, onSeek }: { data: LogHistogram; onSeek: (untilTs: number) => void }) {
  const [cursor, setCursor] = useState<number>();
  if (data.buckets.length === 0) return null;
  const max = Math.max(...data.buckets.map((b) => b.debug + b.info + b.warn + b.error), 1);
  const current = cursor !== undefined ? data.buckets[cursor] : undefined;
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const n = data.buckets.length;
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.preventDefault();
      setCursor((c) => Math.max(0, Math.min(n - 1, (c ?? n - 1) + (e.key === 'ArrowRight' ? 1 : -1))));
    } else if (e.key === 'Enter' && current) onSeek(current.ts + data.bucketMs - 1);
  };
  return (
    <div className="histogram-wrap">
      <div
        className="histogram"
        role="group"
        tabIndex={0}
        aria-label={`Lines over time, ${data.buckets.length} bars. Left and right arrows pick a bar, Enter shows its lines.`}
        onKeyDown={onKey}
      >
        {data.buckets.map((b, i) => {
          const total = b.debug + b.info + b.warn + b.error;
          return (
            <div
              key={b.ts}
              className={`bar${i === cursor ? ' cursor' : ''}`}
              title={`${label(b.ts, data.bucketMs)}: ${total} lines (${b.error} errors, ${b.warn} warnings)`}
              onClick={() => (setCursor(i), onSeek(b.ts + data.bucketMs - 1))}
            >
              {LEVELS.map((l) => (b[l] > 0 ? <span key={l} className={`seg ${l}`} style={{ height: `${(b[l] / max) * 100}%` }} /> : null))}
            </div>
          );
        })}
      </div>
      <p className="histogram-caption" aria-live="polite">
        {current
          ? `${label(current.ts, data.bucketMs)}: ${current.debug + current.info + current.warn + current.error} lines, ${current.error} errors, ${current.warn} warnings`
          : `${label(data.buckets[0]!.ts, data.bucketMs)} – ${label(data.buckets.at(-1)!.ts + data.bucketMs, data.bucketMs)}`}
      </p>
    </div>
  );
});
