/** How often a running server is asked whether it still answers, and when it counts as unhealthy. */
export interface HealthCheckSettings {
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failed probes before the server is unhealthy (one success makes it healthy again). */
  failures: number;
}

export const DEFAULT_HEALTH_CHECK: HealthCheckSettings = { intervalMs: 30_000, timeoutMs: 10_000, failures: 2 };

/**
 * A running server's health, as Docker's HEALTHCHECK decides it: a probe every interval (the next one
 * is scheduled when the last one ended, so probes never pile up on a hung server), unhealthy after
 * `failures` in a row, healthy again at the first answer. Only changes are reported.
 */
export class HealthMonitor {
  private timer: NodeJS.Timeout | undefined;
  private failed = 0;
  private healthy = true;
  private stopped = false;

  constructor(
    private readonly probe: (timeoutMs: number) => Promise<boolean>,
    private readonly settings: HealthCheckSettings,
    private readonly onChange: (healthy: boolean, detail: string) => void,
  ) {}

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), this.settings.intervalMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    let ok = false;
    try {
      ok = await this.probe(this.settings.timeoutMs);
    } catch {
      ok = false;
    }
    if (this.stopped) return;
    if (ok) {
      this.failed = 0;
      if (!this.healthy) {
        this.healthy = true;
        this.onChange(true, 'answers again');
      }
    } else if (++this.failed >= this.settings.failures && this.healthy) {
      this.healthy = false;
      const seconds = Math.round((this.settings.failures * (this.settings.intervalMs + this.settings.timeoutMs)) / 1000);
      this.onChange(false, `the MCP server has not answered for about ${seconds} s (${this.failed} health checks in a row)`);
    }
    this.schedule();
  }
}
