import { randomBytes, timingSafeEqual } from 'node:crypto';

/** An authorization request under way: what the callback must match (OIDC Core §3.1.2.1, RFC 7636). */
export interface PendingSignIn {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  /** A path of the app to land on after sign-in (third-party initiated login's `target_link_uri`). */
  readonly returnTo: string;
  readonly expiresAt: number;
}

/**
 * The signed-in user: the verified ID token's claims and the profile. No token is kept, except —
 * when the app calls an API — the access token for that API, server-side only.
 */
export interface SignedInUser {
  /** The ID token's claims (OIDC Core §2): `sub`, and `act` when someone else is acting. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** UserInfo claims (OIDC Core §5.3: `name`, `email`…), fetched once at sign-in for this `sub`. */
  readonly profile?: Readonly<Record<string, unknown>>;
  readonly signedInAt: number;
  /** The access token for the app's API (RFC 8707 resource), never sent to the browser. */
  readonly apiToken?: string;
  /** The ID token itself, server-side only: sent back as `id_token_hint` when the user signs out. */
  readonly idToken?: string;
}

export interface DemoSession {
  readonly id: string;
  /** The anti-CSRF token of this session's forms. */
  readonly csrf: string;
  readonly expiresAt: number;
  pending?: PendingSignIn;
  readonly user?: SignedInUser;
  /** A one-time message for the next page (the outcome of a form). */
  flash?: { readonly kind: 'ok' | 'error'; readonly text: string };
}

const MAX_SESSIONS = 10_000;

function randomId(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * The demo app's server-side sessions, in process memory: the browser holds only a random id
 * (256 bits). Bounded: expired sessions are swept on each creation and the oldest one goes first
 * when the map is full.
 */
export class DemoSessions {
  readonly #sessions = new Map<string, DemoSession>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The live session with this id, if any. */
  get(id: string | undefined): DemoSession | undefined {
    if (!id) return undefined;
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  /** A new session (a new id: signing in never reuses the id the browser had, against fixation). */
  create(lifetimeMs: number, user?: SignedInUser): DemoSession {
    this.#sweep();
    const session: DemoSession = { id: randomId(), csrf: randomId(), expiresAt: this.now() + lifetimeMs, ...(user ? { user } : {}) };
    this.#sessions.set(session.id, session);
    return session;
  }

  delete(id: string): void {
    this.#sessions.delete(id);
  }

  /** Ends every signed-in session whose ID token claims `match` accepts (a back-channel logout); answers how many. */
  endWhere(match: (claims: Readonly<Record<string, unknown>>) => boolean): number {
    let ended = 0;
    for (const [id, session] of this.#sessions) {
      if (session.user && match(session.user.claims)) {
        this.#sessions.delete(id);
        ended += 1;
      }
    }
    return ended;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** Constant-time comparison of a submitted anti-CSRF token with the session's. */
  static csrfMatches(session: DemoSession, submitted: string | null): boolean {
    if (!submitted) return false;
    const expected = Buffer.from(session.csrf);
    const actual = Buffer.from(submitted);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }

  #sweep(): void {
    const now = this.now();
    for (const [id, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(id);
    while (this.#sessions.size >= MAX_SESSIONS) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
  }
}
