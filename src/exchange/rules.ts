import type { JWTPayload } from 'jose';
import type { DirectoryAccount } from '../accounts.js';
import type { AuthorizeInput, ResolvedOptions } from '../config.js';
import type { ImpersonationMode } from '../constants.js';
import { invalidRequest, subjectRefused, type ExchangeRefusal, type RefusalRule } from '../errors.js';
import type { ApprovalRecord, ApprovalStore } from '../store/approvals.js';
import { actorChain, type ActClaim } from './act.js';
import type { ScopeLimit } from './checks.js';
import { assertActorMayImpersonate, assertMayAct, assertReason, assertSubjectMayBeImpersonated } from './checks.js';
import type { ActorRateLimiter } from './rate-limit.js';
import { accountProfile, profileRule } from './actor-profiles.js';

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

/** How an admitted impersonation may act: its mode, and the subject's approval it starts under. */
export interface Access {
  readonly mode: ImpersonationMode;
  readonly approval: ApprovalRecord | undefined;
  /** Scope ceilings beyond the usual ones: the read-only set, the scopes the subject approved. */
  readonly scopeLimits: readonly ScopeLimit[];
  /** Epoch second the access must end by (the approval's window), if any. */
  readonly notAfter: number | undefined;
}

function approvalRefused(rule: RefusalRule, description: string, detail?: string): ExchangeRefusal {
  return invalidRequest(rule, description, detail);
}

const epoch = () => Math.floor(Date.now() / 1000);

/**
 * docs/grant.md, docs/policy.md: the rules every impersonation passes before it starts, whichever door it comes through —
 * the token-exchange grant or a browser ticket (docs/browser-impersonation.md §1). One implementation, so the two cannot
 * drift: the rate limit, the actor's live account and role, the subject's account (unknown, disabled,
 * self, protected, other tenant: one public description), `may_act`, the reason, and the
 * `authorize` hook.
 */
export function createImpersonationRules(deps: { options: ResolvedOptions; rateLimiter: ActorRateLimiter; approvals: ApprovalStore }) {
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

  /** docs/policy.md: the actor's account, read live, must be allowed to impersonate right now. */
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
   * docs/policy.md: a chained exchange of an impersonation counts against the person who started it — the
   * innermost actor of the `act` chain (`iss` names a foreign one) — so passing a token on cannot
   * mint past their limit.
   */
  async function chargeChain(chain: ActClaim): Promise<void> {
    const human = actorChain(chain).at(-1)!;
    await deps.rateLimiter.consume(actorKey({ sub: human.sub, issuer: human.iss ?? '', ownIssuer: human.iss === undefined, authTime: undefined }));
  }

  /** docs/policy.md: the host's `authorize` hook has the last say; a denial reads like any subject refusal. */
  async function authorizeByHook(input: AuthorizeInput): Promise<void> {
    if (!options.hooks.authorize) return;
    const verdict = await options.hooks.authorize(input);
    if (verdict && verdict.allow === false) throw subjectRefused('subject_denied_by_hook', verdict.detail);
  }

  /**
   * Beyond RFC 8693, `policy.requireSubjectApproval`: `true` for every impersonation, or for
   * subjects of the listed tenants and actors holding the listed roles.
   */
  function approvalRequired(actor: DirectoryAccount, subject: DirectoryAccount): boolean {
    const rule = policy.requireSubjectApproval;
    if (typeof rule === 'boolean') return rule;
    const byTenant = subject.tenant !== undefined && (rule.tenants?.includes(subject.tenant) ?? false);
    const byRole = rule.actorRoles?.some((role) => actor.roles.includes(role)) ?? false;
    return byTenant || byRole;
  }

  /** Whether policy holds this actor to read-only impersonation (`policy.readOnlyRoles`). */
  function readOnlyOnly(actor: DirectoryAccount): boolean {
    return policy.readOnlyRoles.some((role) => actor.roles.includes(role)) || profileRule(policy, [accountProfile(actor)]).readOnly;
  }

  /**
   * The mode of an impersonation: `read` when asked for, when the actor holds a read-only role, or
   * when the subject approved read-only access. Asking for `full` beyond such a ceiling is refused
   * rather than quietly narrowed.
   */
  function modeFor(requested: ImpersonationMode | undefined, actor: DirectoryAccount, approvalMode: ImpersonationMode | undefined): ImpersonationMode {
    const forced = readOnlyOnly(actor);
    if (requested === 'full' && (forced || approvalMode === 'read')) {
      throw invalidRequest(
        'impersonation_mode_not_allowed',
        forced ? 'this actor may only impersonate read-only' : 'the subject approved read-only access',
        forced ? `${actor.id} holds one of ${policy.readOnlyRoles.join(', ')} or is a read-only kind (policy.actorProfiles)` : 'approval mode read',
      );
    }
    const mode: ImpersonationMode = forced || approvalMode === 'read' || requested === 'read' ? 'read' : 'full';
    if (mode === 'read' && policy.readOnlyScopes === undefined) {
      throw invalidRequest('impersonation_mode_unavailable', 'read-only impersonation is not configured', 'policy.readOnlyScopes is not set');
    }
    return mode;
  }

  /**
   * The subject's approval an impersonation starts under: the one named (`approval_id`, a ticket's
   * `approval`), which must be this actor's request for this subject, approved, unused and within
   * its window; or none, when policy does not require one.
   */
  async function approvalFor(approvalId: string | undefined, actor: DirectoryAccount, subject: DirectoryAccount, now: number): Promise<ApprovalRecord | undefined> {
    if (approvalId === undefined) {
      if (approvalRequired(actor, subject)) throw approvalRefused('approval_required', "this impersonation needs the subject's approval: ask them first", `${actor.id} for ${subject.id}`);
      return undefined;
    }
    const record = await deps.approvals.get(approvalId);
    if (!record || record.actor !== actor.id || record.subject !== subject.id) throw approvalRefused('approval_unknown', 'unknown approval', approvalId);
    if (record.status === 'pending') throw approvalRefused('approval_pending', 'the subject has not answered this request yet', approvalId);
    if (record.status === 'declined') throw approvalRefused('approval_declined', 'the subject declined this request', approvalId);
    if (record.status === 'revoked') throw approvalRefused('approval_revoked', 'the subject revoked this approval', approvalId);
    const use = await deps.approvals.use(record.id);
    if (use === 'used') throw approvalRefused('approval_used', 'this approval was already used', approvalId);
    if (use === 'closed' || (record.approvedUntil ?? 0) <= now) throw approvalRefused('approval_expired', "this approval's window has ended", approvalId);
    return record;
  }

  /**
   * Decides how an admitted impersonation may act (beyond RFC 8693): the subject's approval when
   * one is required or named, then the mode. Both doors (the grant, tickets) call this after
   * `admit`, so neither can skip it.
   */
  async function access(input: { actor: DirectoryAccount; subject: DirectoryAccount; approvalId: string | undefined; mode: ImpersonationMode | undefined }): Promise<Access> {
    const approval = await approvalFor(input.approvalId, input.actor, input.subject, epoch());
    const mode = modeFor(input.mode, input.actor, approval?.mode);
    const scopeLimits: ScopeLimit[] = [
      ...(mode === 'read' ? [{ source: 'read_only' as const, scopes: policy.readOnlyScopes }] : []),
      ...(approval?.scopes ? [{ source: 'approval' as const, scopes: approval.scopes }] : []),
    ];
    return { mode, approval, scopeLimits, notAfter: approval?.approvedUntil };
  }

  /**
   * Spends the approval's single use, atomically on the shared store: of any number of concurrent
   * starts exactly one proceeds. Called last, once every other rule passed, so a refusal never
   * costs the subject's approval.
   */
  async function spendApproval(approval: ApprovalRecord | undefined): Promise<void> {
    if (!approval) return;
    if (await deps.approvals.spend(approval.id, epoch())) return;
    const [now, use] = await Promise.all([deps.approvals.get(approval.id), deps.approvals.use(approval.id)]);
    if (now?.status === 'revoked') throw approvalRefused('approval_revoked', 'the subject revoked this approval', approval.id);
    if (use === 'used') throw approvalRefused('approval_used', 'this approval was already used', approval.id);
    throw approvalRefused('approval_expired', "this approval's window has ended", approval.id);
  }

  return { actorKey, accountIdOf, actorAccountOf, admit, chargeChain, authorizeByHook, approvalRequired, readOnlyOnly, modeFor, access, spendApproval };
}

export type ImpersonationRules = ReturnType<typeof createImpersonationRules>;
