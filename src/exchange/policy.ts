import type { DirectoryAccount } from '../accounts.js';
import type { ImpersonationPolicy } from '../config.js';
import { ADMIN_SCOPE } from '../constants.js';
import { ExchangeRefusal, invalidRequest, subjectRefused } from '../errors.js';
import { chainLength, type ActClaim } from './act.js';
import type { VerifiedToken } from './verify.js';

/*
 * Pure decisions of SPEC §2. Each function enforces one rule family and throws the refusal that
 * names the rule; none performs I/O.
 */

/** SPEC §1: an impersonated identity cannot start an impersonation. */
export function assertActorTokenUnchained(actor: VerifiedToken): void {
  if (actor.act) {
    throw invalidRequest('actor_token_carries_act', 'actor_token must not itself carry an act claim', `actor ${actor.sub} acts for someone already`);
  }
}

/**
 * SPEC §3: every token issued under an impersonation must end with each revocation. A subject token
 * that acts for someone (`act`, `impersonation`) is therefore accepted only when this provider
 * tracks it — an access token whose grant it knows — never an ID token or a JWT it cannot revoke
 * (such as the ID token of an impersonation or of an impersonated browser session).
 */
export function assertSubjectTokenRevocable(subject: VerifiedToken): void {
  if (subject.carriesAct && subject.grantId === undefined) {
    throw invalidRequest('subject_token_unrevocable', 'a subject_token that carries act must be an access token of this provider', `${subject.ownIssuer ? 'untracked' : 'foreign'} token acting for ${subject.sub}`);
  }
}

/**
 * SPEC §1: exchanging an impersonation token can narrow it, never widen it. The subject token's
 * scope limits what is issued; when it acts for someone and its scope is unknown, it allows nothing.
 */
export function subjectScopeLimit(subject: VerifiedToken | undefined): readonly string[] | undefined {
  if (!subject) return undefined;
  return subject.scopes ?? (subject.carriesAct ? [] : undefined);
}

/** SPEC §2: the actor's account exists, is enabled, holds an actor role, and (optionally) authenticated recently. */
export function assertActorMayImpersonate(
  account: DirectoryAccount | undefined,
  actor: Pick<VerifiedToken, 'sub' | 'authTime'>,
  policy: ImpersonationPolicy,
  now: number,
): DirectoryAccount {
  if (!account) throw invalidRequest('actor_unknown', 'the actor account does not exist', actor.sub);
  if (account.disabled) throw invalidRequest('actor_disabled', 'the actor account is disabled', account.id);
  const roles = new Set(account.roles);
  if (!policy.actorRoles.some((role) => roles.has(role))) {
    throw invalidRequest('actor_not_impersonator', 'the actor is not allowed to impersonate', `needs one of ${policy.actorRoles.join(', ')}`);
  }
  if (policy.maxActorAuthAgeSeconds !== undefined) {
    if (actor.authTime === undefined || now - actor.authTime > policy.maxActorAuthAgeSeconds) {
      throw invalidRequest(
        'actor_authentication_stale',
        'the actor must authenticate again before impersonating',
        actor.authTime === undefined ? 'no auth_time known' : `auth_time ${now - actor.authTime}s ago`,
      );
    }
  }
  return account;
}

/**
 * SPEC §2: the subject exists and is enabled, is not the actor, holds no protected role, and shares
 * the actor's tenant unless the actor holds the global role. Every refusal reads the same.
 */
export function assertSubjectMayBeImpersonated(
  subject: DirectoryAccount | undefined,
  subjectId: string,
  actor: DirectoryAccount,
  policy: ImpersonationPolicy,
): DirectoryAccount {
  if (!subject) throw subjectRefused('subject_unknown', subjectId);
  if (subject.disabled) throw subjectRefused('subject_disabled', subject.id);
  if (subject.id === actor.id) throw subjectRefused('subject_is_actor', subject.id);
  const protectedRole = subject.roles.find((role) => policy.protectedRoles.includes(role));
  if (protectedRole) throw subjectRefused('subject_protected', `${subject.id} holds ${protectedRole}`);
  if (subject.tenant !== actor.tenant && !actor.roles.includes(policy.globalRole)) {
    throw subjectRefused('subject_other_tenant', `${actor.tenant ?? '(none)'} vs ${subject.tenant ?? '(none)'}`);
  }
  return subject;
}

/** Delegation without impersonation still needs the subject's account to be usable. */
export function assertSubjectActive(subject: DirectoryAccount | undefined, subjectId: string): DirectoryAccount {
  if (!subject) throw subjectRefused('subject_unknown', subjectId);
  if (subject.disabled) throw subjectRefused('subject_disabled', subject.id);
  return subject;
}

/** RFC 8693 §4.4: when the subject token names who may act for it, the actor must match. */
export function assertMayAct(
  mayAct: Record<string, unknown> | undefined,
  actor: { sub: string; iss: string | undefined; clientId: string },
): void {
  if (!mayAct) return;
  const matches =
    (mayAct.sub === undefined || mayAct.sub === actor.sub) &&
    (mayAct.iss === undefined || mayAct.iss === actor.iss) &&
    (mayAct.client_id === undefined || mayAct.client_id === actor.clientId) &&
    (mayAct.sub !== undefined || mayAct.client_id !== undefined);
  if (!matches) throw subjectRefused('subject_may_act', `may_act does not name ${actor.sub}`);
}

/** SPEC §1: chains longer than the configured maximum number of actors are refused. */
export function assertChainLength(act: ActClaim, policy: ImpersonationPolicy): void {
  const length = chainLength(act);
  if (length > policy.maxActors) {
    throw invalidRequest('chain_too_long', 'the delegation chain is too long', `${length} actors, at most ${policy.maxActors}`);
  }
}

/** SPEC §2: a reason is required for impersonation unless policy relaxes it. */
export function assertReason(reason: string | undefined, policy: ImpersonationPolicy): void {
  if (policy.requireReason && reason === undefined) {
    throw invalidRequest('reason_missing', "missing required parameter 'reason'");
  }
}

/**
 * SPEC §1–2: what an impersonation may ever carry, whichever door it came through: the allow-list,
 * minus the deny-list, never `offline_access` (it is never refreshable) and never the admin scope
 * (an impersonated identity cannot administer impersonation).
 */
export function impersonationScopes(scopes: readonly string[], policy: ImpersonationPolicy): string[] {
  const { allow, deny } = policy.scopes;
  return scopes.filter((s) => (!allow || allow.includes(s)) && !deny.includes(s) && s !== 'offline_access' && s !== ADMIN_SCOPE);
}

/**
 * SPEC §1: issued scope = requested ∩ what the subject may hold ∩ allow-list − deny-list, never
 * `offline_access`, and never the admin API's scope, which no exchanged token may carry on (it
 * would outlive the administrator's own sign-in). Without `scope`, the request asks for everything
 * it may get (RFC 8693 §2.1).
 */
export function grantedScopes(input: {
  requested: readonly string[] | undefined;
  limits: ReadonlyArray<readonly string[] | undefined>;
  policy: ImpersonationPolicy;
  impersonating: boolean;
}): string[] {
  const { requested, limits, policy, impersonating } = input;
  const known = limits.filter((l): l is readonly string[] => l !== undefined);
  let scopes = requested ? [...requested] : [...(known[0] ?? [])];
  for (const limit of known) scopes = scopes.filter((s) => limit.includes(s));
  if (impersonating) scopes = impersonationScopes(scopes, policy);
  scopes = scopes.filter((s) => s !== 'offline_access' && s !== ADMIN_SCOPE);
  if (scopes.length === 0) {
    throw new ExchangeRefusal('scope_empty', 'invalid_scope', 'none of the requested scopes can be granted', {
      detail: requested ? `requested ${requested.join(' ')}` : 'no scope available',
    });
  }
  return scopes;
}

/**
 * SPEC §1: lifetime = min(requested_expires_in, policy ceiling, remaining life of an incoming
 * impersonation token). An exchange can shorten an impersonation, never lengthen it.
 */
export function lifetimeSeconds(input: {
  requested: number | undefined;
  ceiling: number;
  incomingExpiresAt: number | undefined;
  now: number;
}): number {
  const candidates = [input.ceiling];
  if (input.requested !== undefined) candidates.push(input.requested);
  if (input.incomingExpiresAt !== undefined) candidates.push(input.incomingExpiresAt - input.now);
  const lifetime = Math.min(...candidates);
  if (lifetime < 1) throw invalidRequest('lifetime_exhausted', 'subject_token is invalid, expired or revoked', 'no lifetime left');
  return lifetime;
}
