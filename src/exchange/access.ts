import type { DirectoryAccount } from '../accounts.js';
import type { ImpersonationPolicy } from '../config.js';
import type { ImpersonationMode } from '../constants.js';
import { invalidRequest, type ExchangeRefusal, type RefusalRule } from '../errors.js';
import type { ApprovalRecord, ApprovalStore } from '../store/approvals.js';
import { accountProfile } from '../claims/profiles.js';
import { profileRule, type ActorProfileRule } from './actor-profiles.js';
import type { ScopeLimit } from './checks.js';
import type { ExchangeRequest } from './request.js';
import type { ImpersonationFacts } from './verify.js';

/*
 * How an exchange may act, beyond RFC 8693 (docs/policy.md, docs/beyond-impersonation.md), part of
 * the rule module (src/exchange/rules.ts): the subject's approval an impersonation starts under,
 * and its mode (`full`, or `read` with the read-only scopes).
 */

/** How an admitted impersonation may act: its mode, and the subject's approval it starts under. */
export interface Access {
  readonly mode: ImpersonationMode;
  readonly approval: ApprovalRecord | undefined;
  /** Scope ceilings beyond the usual ones: the read-only set, the scopes the subject approved. */
  readonly scopeLimits: readonly ScopeLimit[];
  /** Epoch second the access must end by (the approval's window), if any. */
  readonly notAfter: number | undefined;
}

/** What deciding access reads: the policy, and the subject's approvals. */
export interface AccessDeps {
  readonly policy: ImpersonationPolicy;
  readonly approvals: ApprovalStore;
}

/** The extension parameters that only starting an impersonation takes. */
export type AccessRequest = Pick<ExchangeRequest, 'approvalId' | 'impersonationMode'>;

const epoch = () => Math.floor(Date.now() / 1000);

function approvalRefused(rule: RefusalRule, description: string, detail?: string): ExchangeRefusal {
  return invalidRequest(rule, description, detail);
}

/**
 * `policy.requireSubjectApproval`: `true` for every impersonation, or for subjects of the listed
 * tenants and actors holding the listed roles.
 */
export function approvalRequired(policy: ImpersonationPolicy, actor: DirectoryAccount, subject: DirectoryAccount): boolean {
  const rule = policy.requireSubjectApproval;
  if (typeof rule === 'boolean') return rule;
  const byTenant = subject.tenant !== undefined && (rule.tenants?.includes(subject.tenant) ?? false);
  const byRole = rule.actorRoles?.some((role) => actor.roles.includes(role)) ?? false;
  return byTenant || byRole;
}

/** Whether policy holds this actor to read-only impersonation (`policy.readOnlyRoles`). */
export function readOnlyOnly(policy: ImpersonationPolicy, actor: DirectoryAccount): boolean {
  return policy.readOnlyRoles.some((role) => actor.roles.includes(role)) || profileRule(policy, [accountProfile(actor)]).readOnly;
}

/**
 * The mode of an impersonation: `read` when asked for, when the actor holds a read-only role, or
 * when the subject approved read-only access. Asking for `full` beyond such a ceiling is refused
 * rather than quietly narrowed.
 */
export function modeFor(policy: ImpersonationPolicy, requested: ImpersonationMode | undefined, actor: DirectoryAccount, approvalMode: ImpersonationMode | undefined): ImpersonationMode {
  const forced = readOnlyOnly(policy, actor);
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
async function approvalFor(deps: AccessDeps, approvalId: string | undefined, actor: DirectoryAccount, subject: DirectoryAccount, now: number): Promise<ApprovalRecord | undefined> {
  if (approvalId === undefined) {
    if (approvalRequired(deps.policy, actor, subject)) throw approvalRefused('approval_required', "this impersonation needs the subject's approval: ask them first", `${actor.id} for ${subject.id}`);
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
 * Decides how an admitted impersonation may act: the subject's approval when one is required or
 * named, then the mode. Both doors (the grant, tickets) call this after `admit`, so neither can
 * skip it.
 */
export async function startingAccess(
  deps: AccessDeps,
  input: { actor: DirectoryAccount; subject: DirectoryAccount; approvalId: string | undefined; mode: ImpersonationMode | undefined },
): Promise<Access> {
  const approval = await approvalFor(deps, input.approvalId, input.actor, input.subject, epoch());
  const mode = modeFor(deps.policy, input.mode, input.actor, approval?.mode);
  const scopeLimits: ScopeLimit[] = [
    ...(mode === 'read' ? [{ source: 'read_only' as const, scopes: deps.policy.readOnlyScopes }] : []),
    ...(approval?.scopes ? [{ source: 'approval' as const, scopes: approval.scopes }] : []),
  ];
  return { mode, approval, scopeLimits, notAfter: approval?.approvedUntil };
}

/**
 * An exchange that passes an impersonation on (RFC 8693 §4.1) keeps its mode and may narrow it to
 * read-only (`impersonation_mode=read`), never widen it; only starting an impersonation spends an
 * approval.
 */
export function passedOnAccess(
  policy: ImpersonationPolicy,
  request: AccessRequest,
  prior: ImpersonationFacts | undefined,
  rule: ActorProfileRule,
): { impersonation: ImpersonationFacts | undefined; access: Access } {
  if (request.approvalId !== undefined) throw invalidRequest('approval_not_applicable', 'approval_id applies only to starting an impersonation');
  const wasRead = prior?.mode === 'read' || (prior !== undefined && rule.readOnly);
  if (request.impersonationMode === 'full' && rule.readOnly) throw invalidRequest('impersonation_mode_not_allowed', 'this kind of actor may only act read-only', 'policy.actorProfiles');
  if (request.impersonationMode === 'full' && wasRead) throw invalidRequest('impersonation_mode_not_allowed', 'a read-only impersonation cannot be widened');
  if (request.impersonationMode === 'read' && !prior) throw invalidRequest('impersonation_mode_invalid', 'impersonation_mode applies only to an impersonation');
  if (request.impersonationMode === 'read' && policy.readOnlyScopes === undefined) {
    throw invalidRequest('impersonation_mode_unavailable', 'read-only impersonation is not configured', 'policy.readOnlyScopes is not set');
  }
  const read = wasRead || request.impersonationMode === 'read' || rule.readOnly;
  const impersonation = prior && read && prior.mode !== 'read' ? { ...prior, mode: 'read' as const } : prior;
  const scopeLimits = read && policy.readOnlyScopes ? [{ source: 'read_only' as const, scopes: policy.readOnlyScopes }] : [];
  return { impersonation, access: { mode: read ? 'read' : 'full', approval: undefined, scopeLimits, notAfter: undefined } };
}

/** RFC 8693 §1.1 delegation is no impersonation: the parameters that start one do not apply. */
export function assertNoImpersonationParameters(request: AccessRequest): void {
  if (request.approvalId !== undefined) throw invalidRequest('approval_not_applicable', 'approval_id applies only to starting an impersonation');
  if (request.impersonationMode !== undefined) throw invalidRequest('impersonation_mode_invalid', 'impersonation_mode applies only to an impersonation');
}

/** A read-only kind of actor carries only the read-only scopes when it delegates (policy.actorProfiles). */
export function delegatedAccess(policy: ImpersonationPolicy, rule: ActorProfileRule | undefined): Access | undefined {
  if (!rule?.readOnly) return undefined;
  return { mode: 'read', approval: undefined, scopeLimits: [{ source: 'read_only', scopes: policy.readOnlyScopes }], notAfter: undefined };
}

/**
 * Spends the approval's single use, atomically on the shared store: of any number of concurrent
 * starts exactly one proceeds. Called last, once every other rule passed, so a refusal never
 * costs the subject's approval.
 */
export async function spendApproval(deps: Pick<AccessDeps, 'approvals'>, approval: ApprovalRecord | undefined): Promise<void> {
  if (!approval) return;
  if (await deps.approvals.spend(approval.id, epoch())) return;
  const [now, use] = await Promise.all([deps.approvals.get(approval.id), deps.approvals.use(approval.id)]);
  if (now?.status === 'revoked') throw approvalRefused('approval_revoked', 'the subject revoked this approval', approval.id);
  if (use === 'used') throw approvalRefused('approval_used', 'this approval was already used', approval.id);
  throw approvalRefused('approval_expired', "this approval's window has ended", approval.id);
}
