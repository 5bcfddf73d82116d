import type { JWTPayload } from 'jose';
import type { DirectoryAccount } from '../accounts.js';
import type { AuthorizeInput, ResolvedOptions } from '../config.js';
import { subjectRefused } from '../errors.js';
import { actorChain, type ActClaim } from '../claims/act.js';
import { assertActorMayImpersonate, assertMayAct, assertSubjectMayBeImpersonated } from './checks.js';
import type { ActorRateLimiter } from './rate-limit.js';
import { assertReason } from './reason.js';

/*
 * Who may act for whom (docs/policy.md), part of the rule module (src/exchange/rules.ts): the
 * per-actor rate limit, the actor's live account and role, the subject's account, `may_act`
 * (RFC 8693 §4.4), the reason, and the host's `authorize` hook.
 */

/** The person starting an impersonation, however they proved who they are (an actor token, an admin API token). */
export interface ActorIdentity {
  readonly sub: string;
  readonly issuer: string;
  readonly ownIssuer: boolean;
  /** When the actor last authenticated, if known (docs/policy.md `maxActorAuthAgeSeconds`). */
  readonly authTime: number | undefined;
  readonly claims?: JWTPayload | undefined;
}

/** The accounts an admitted impersonation starts from, both read live. */
export interface Admitted {
  readonly actorAccount: DirectoryAccount;
  readonly subjectAccount: DirectoryAccount;
}

/** What admission reads: the options (policy, hooks, the account directory) and the per-actor limiter. */
export interface AdmissionDeps {
  readonly options: ResolvedOptions;
  readonly rateLimiter: ActorRateLimiter;
}

const epoch = () => Math.floor(Date.now() / 1000);

/** The rate-limit key of an actor: a local account by id, a foreign identity by issuer and subject. */
export function actorKey(actor: ActorIdentity): string {
  return actor.ownIssuer ? `account ${actor.sub}` : `${actor.issuer} ${actor.sub}`;
}

/** The local account id of a verified identity (`hooks.resolveSubject` for trusted issuers). */
export async function accountIdOf(deps: Pick<AdmissionDeps, 'options'>, identity: ActorIdentity): Promise<string | undefined> {
  const { hooks } = deps.options;
  if (identity.ownIssuer || !hooks.resolveSubject) return identity.sub;
  return hooks.resolveSubject({ issuer: identity.issuer, sub: identity.sub, claims: identity.claims ?? {}, ownIssuer: identity.ownIssuer });
}

/** docs/policy.md: the actor's account, read live, must be allowed to impersonate right now. */
export async function actorAccountOf(deps: Pick<AdmissionDeps, 'options'>, actor: ActorIdentity): Promise<DirectoryAccount> {
  const actorId = await accountIdOf(deps, actor);
  const account = actorId === undefined ? undefined : await deps.options.accounts.findAccount(actorId);
  return assertActorMayImpersonate(account, actor, deps.options.policy, epoch());
}

/** What starting an impersonation asks to be admitted. */
export interface AdmitInput {
  readonly actor: ActorIdentity;
  readonly subjectId: string;
  readonly clientId: string;
  readonly reason: string | undefined;
  /** RFC 8693 §4.4: the subject token's `may_act`, when it has one. */
  readonly mayAct?: Record<string, unknown> | undefined;
}

/**
 * Admits the start of an impersonation of `subjectId` by a human actor, or throws the refusal
 * naming the first rule broken. The rate limit is spent first, so probing costs the prober.
 */
export async function admit(deps: AdmissionDeps, input: AdmitInput): Promise<Admitted> {
  const { actor, subjectId } = input;
  const { policy } = deps.options;
  await deps.rateLimiter.consume(actorKey(actor));
  const [actorRead, subjectRead] = await Promise.all([actorAccountOf(deps, actor).catch((err: unknown) => err), deps.options.accounts.findAccount(subjectId)]);
  if (actorRead instanceof Error) throw actorRead;
  const actorAccount = actorRead as DirectoryAccount;
  const subjectAccount = assertSubjectMayBeImpersonated(subjectRead, subjectId, actorAccount, policy);
  assertMayAct(input.mayAct, { sub: actor.sub, iss: actor.issuer, clientId: input.clientId });
  assertReason(input.reason, policy);
  return { actorAccount, subjectAccount };
}

/**
 * docs/policy.md: a chained exchange of an impersonation counts against the person who started it — the
 * innermost actor of the `act` chain (RFC 8693 §4.1; `iss` names a foreign one) — so passing a
 * token on cannot mint past their limit.
 */
export async function chargeChain(deps: Pick<AdmissionDeps, 'rateLimiter'>, chain: ActClaim): Promise<void> {
  const human = actorChain(chain).at(-1)!;
  await deps.rateLimiter.consume(actorKey({ sub: human.sub, issuer: human.iss ?? '', ownIssuer: human.iss === undefined, authTime: undefined }));
}

/** docs/policy.md: the host's `authorize` hook has the last say; a denial reads like any subject refusal. */
export async function authorizeByHook(deps: Pick<AdmissionDeps, 'options'>, input: AuthorizeInput): Promise<void> {
  const { hooks } = deps.options;
  if (!hooks.authorize) return;
  const verdict = await hooks.authorize(input);
  if (verdict && verdict.allow === false) throw subjectRefused('subject_denied_by_hook', verdict.detail);
}
