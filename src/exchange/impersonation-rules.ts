import type { JWTPayload } from 'jose';
import type { DirectoryAccount } from '../accounts.js';
import type { AuthorizeInput, ResolvedOptions } from '../config.js';
import { subjectRefused } from '../errors.js';
import { actorChain, type ActClaim } from './act.js';
import { assertActorMayImpersonate, assertMayAct, assertReason, assertSubjectMayBeImpersonated } from './policy.js';
import type { ActorRateLimiter } from './rate-limit.js';

/** The person starting an impersonation, however they proved who they are (an actor token, an admin API token). */
export interface ActorIdentity {
  readonly sub: string;
  readonly issuer: string;
  readonly ownIssuer: boolean;
  /** When the actor last authenticated, if known (SPEC §2 `maxActorAuthAgeSeconds`). */
  readonly authTime: number | undefined;
  readonly claims?: JWTPayload | undefined;
}

/** The accounts an admitted impersonation starts from, both read live. */
export interface Admitted {
  readonly actorAccount: DirectoryAccount;
  readonly subjectAccount: DirectoryAccount;
}

const epoch = () => Math.floor(Date.now() / 1000);

/**
 * SPEC §1–2: the rules every impersonation passes before it starts, whichever door it comes through —
 * the token-exchange grant or a browser ticket (SPEC §4.1). One implementation, so the two cannot
 * drift: the rate limit, the actor's live account and role, the subject's account (unknown, disabled,
 * self, protected, other tenant: one public description), `may_act`, the reason, and the
 * `authorize` hook.
 */
export function createImpersonationRules(deps: { options: ResolvedOptions; rateLimiter: ActorRateLimiter }) {
  const { options } = deps;
  const { policy } = options;

  /** The rate-limit key of an actor: a local account by id, a foreign identity by issuer and subject. */
  function actorKey(actor: ActorIdentity): string {
    return actor.ownIssuer ? `account ${actor.sub}` : `${actor.issuer} ${actor.sub}`;
  }

  /** The local account id of a verified identity (`hooks.resolveSubject` for trusted issuers). */
  async function accountIdOf(identity: ActorIdentity): Promise<string | undefined> {
    if (identity.ownIssuer || !options.hooks.resolveSubject) return identity.sub;
    return options.hooks.resolveSubject({ issuer: identity.issuer, sub: identity.sub, claims: identity.claims ?? {}, ownIssuer: identity.ownIssuer });
  }

  /** SPEC §2: the actor's account, read live, must be allowed to impersonate right now. */
  async function actorAccountOf(actor: ActorIdentity): Promise<DirectoryAccount> {
    const actorId = await accountIdOf(actor);
    const account = actorId === undefined ? undefined : await options.accounts.findAccount(actorId);
    return assertActorMayImpersonate(account, actor, policy, epoch());
  }

  /**
   * Admits the start of an impersonation of `subjectId` by a human actor, or throws the refusal
   * naming the first rule broken. The rate limit is spent first, so probing costs the prober.
   */
  async function admit(input: {
    actor: ActorIdentity;
    subjectId: string;
    clientId: string;
    reason: string | undefined;
    mayAct?: Record<string, unknown> | undefined;
  }): Promise<Admitted> {
    const { actor, subjectId } = input;
    await deps.rateLimiter.consume(actorKey(actor));
    const [actorRead, subjectRead] = await Promise.all([actorAccountOf(actor).catch((err: unknown) => err), options.accounts.findAccount(subjectId)]);
    if (actorRead instanceof Error) throw actorRead;
    const actorAccount = actorRead as DirectoryAccount;
    const subjectAccount = assertSubjectMayBeImpersonated(subjectRead, subjectId, actorAccount, policy);
    assertMayAct(input.mayAct, { sub: actor.sub, iss: actor.issuer, clientId: input.clientId });
    assertReason(input.reason, policy);
    return { actorAccount, subjectAccount };
  }

  /**
   * SPEC §2: a chained exchange of an impersonation counts against the person who started it — the
   * innermost actor of the `act` chain (`iss` names a foreign one) — so passing a token on cannot
   * mint past their limit.
   */
  async function chargeChain(chain: ActClaim): Promise<void> {
    const human = actorChain(chain).at(-1)!;
    await deps.rateLimiter.consume(actorKey({ sub: human.sub, issuer: human.iss ?? '', ownIssuer: human.iss === undefined, authTime: undefined }));
  }

  /** SPEC §2: the host's `authorize` hook has the last say; a denial reads like any subject refusal. */
  async function authorizeByHook(input: AuthorizeInput): Promise<void> {
    if (!options.hooks.authorize) return;
    const verdict = await options.hooks.authorize(input);
    if (verdict && verdict.allow === false) throw subjectRefused('subject_denied_by_hook', verdict.detail);
  }

  return { actorKey, accountIdOf, actorAccountOf, admit, chargeChain, authorizeByHook };
}

export type ImpersonationRules = ReturnType<typeof createImpersonationRules>;
