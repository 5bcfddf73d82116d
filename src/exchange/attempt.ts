import type { DirectoryAccount } from '../accounts.js';
import type { ImpersonationStartedNotice } from '../notify/notice.js';
import type { Access } from './access.js';
import type { ActClaim } from '../claims/act.js';
import type { ExchangeResponse, IssuePlan } from './issue.js';
import type { ExchangeRequest } from './request.js';
import type { ImpersonationFacts, VerifiedToken } from './verify.js';

/*
 * The immutable values the grant's steps pass on (src/exchange/grant.ts), in their order:
 * ParsedRequest → VerifiedTokens → Decision → Planned → Issued. Each carries the facts an audit
 * record of a refusal names (docs/audit.md); a step that fails leaves with the facts it knew.
 */

/** What a refusal's audit record says of the attempt: as much as was established before it. */
export interface AttemptFacts {
  readonly actor?: string | undefined;
  readonly subject?: string | undefined;
  readonly reason?: string | undefined;
  readonly scope?: string | undefined;
  readonly audience?: readonly string[] | undefined;
}

/** Reads started together for one request (src/exchange/tokens.ts `startReads`), consumed in rule order. */
export interface Reads {
  /** The shared switch (docs/grant.md). */
  readonly enabled: Promise<boolean>;
  /** RFC 9449 §4.3: the DPoP proof's key thumbprint, if a proof was sent. */
  readonly proofKey: Promise<string | undefined>;
  readonly actor: Promise<VerifiedToken | undefined>;
  /** `undefined` for the user-id subject type, which names an account rather than a token. */
  readonly subject: Promise<VerifiedToken | undefined>;
}

/** After parsing: the RFC 8693 §2.1 parameters of an admitted client, and the reads under way. */
export interface ParsedRequest {
  readonly request: ExchangeRequest;
  readonly reads: Reads;
  readonly facts: AttemptFacts;
}

/** The subject: its local account id, and the token that named it (none for the user-id type). */
export interface Subject {
  readonly id: string;
  readonly token: VerifiedToken | undefined;
}

/** After verification (RFC 8693 §2.1): both tokens valid and acceptable, the subject's account known. */
export interface VerifiedTokens {
  readonly request: ExchangeRequest;
  readonly proofKey: string | undefined;
  readonly actor: VerifiedToken | undefined;
  readonly subject: Subject;
  readonly facts: AttemptFacts;
}

/**
 * The kind of exchange (RFC 8693 §1.1): starting an impersonation, passing an `act` chain on
 * (§4.1), or delegation without impersonation.
 */
export type ExchangeKind = 'impersonation' | 'chain' | 'delegation';

/** After the rule module (src/exchange/rules.ts): who acts for whom, and how. */
export interface Decision {
  readonly kind: ExchangeKind;
  /** The account of a person acting (read live), for the `authorize` hook. */
  readonly actorAccount: DirectoryAccount | undefined;
  readonly subjectAccount: DirectoryAccount;
  /** RFC 8693 §4.1: the `act` claim the token will carry; none for a client using the subject's own token. */
  readonly act: ActClaim | undefined;
  readonly impersonation: ImpersonationFacts | undefined;
  readonly access: Access | undefined;
  /** The local account of the person who started the impersonation (the one the cascade re-reads). */
  readonly person: string | undefined;
  /** The user's delegation to an agent this exchange acts under. */
  readonly delegationId?: string | undefined;
  /** Not listed again in the subject's history (a later exchange of a delegation already listed). */
  readonly quiet?: boolean | undefined;
}

/** After the limits (target, scope, lifetime) and the last rules: the token to issue. */
export interface Planned {
  readonly plan: IssuePlan;
  readonly facts: AttemptFacts;
}

/** After issuing (RFC 8693 §2.2.1): the response, and what follows it. */
export interface Issued {
  readonly response: ExchangeResponse;
  readonly grantId: string | undefined;
  /** The notice to the subject when this exchange started an impersonation of them. */
  readonly notice: ImpersonationStartedNotice | undefined;
}

/** Whatever a step threw (a refusal, or a failure), with the facts the attempt had established. */
export class FailedAttempt extends Error {
  readonly error: unknown;
  readonly facts: AttemptFacts;

  constructor(error: unknown, facts: AttemptFacts) {
    super('token exchange attempt failed', { cause: error });
    this.name = 'FailedAttempt';
    this.error = error;
    this.facts = facts;
  }
}

/**
 * Runs (the rest of) a step knowing `facts`: what it throws leaves with them, unless a later
 * point of the step already attached the facts it knew.
 */
export async function knowing<T>(facts: AttemptFacts, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw err instanceof FailedAttempt ? err : new FailedAttempt(err, facts);
  }
}
