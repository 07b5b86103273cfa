import { randomBytes, timingSafeEqual } from 'node:crypto';

const CODE_LIFETIME_MS = 15 * 60_000;

/**
 * The app's sign-in without a token copied by hand: the core prints (or `gatehouse ui` asks for) a URL
 * with a one-time code, which the first visit exchanges for a session cookie. Codes are single use and
 * short-lived; sessions live as long as this core (a restart signs the browser out).
 */
export class UiSessions {
  private readonly codes = new Map<string, number>();
  private readonly sessions = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {}

  issueCode(): string {
    this.sweep();
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, this.now() + CODE_LIFETIME_MS);
    return code;
  }

  /** A new session for a code that is valid and unused; the code is spent either way. */
  exchange(code: string): string | undefined {
    this.sweep();
    const expires = this.codes.get(code);
    this.codes.delete(code);
    if (expires === undefined || expires < this.now()) return undefined;
    const session = randomBytes(32).toString('base64url');
    this.sessions.add(session);
    return session;
  }

  valid(session: string | undefined): boolean {
    if (session === undefined || session.length !== 43) return false;
    const given = Buffer.from(session);
    for (const s of this.sessions) if (timingSafeEqual(given, Buffer.from(s))) return true;
    return false;
  }

  end(session: string): void {
    this.sessions.delete(session);
  }

  private sweep(): void {
    const t = this.now();
    for (const [code, expires] of this.codes) if (expires < t) this.codes.delete(code);
  }
}
