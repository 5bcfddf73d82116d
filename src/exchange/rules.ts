import type { DirectoryAccount } from '../accounts.js';
import type { AuthorizeInput, ResolvedOptions } from '../config.js';
import type { ImpersonationMode } from '../constants.js';
import type { ApprovalRecord, ApprovalStore } from '../store/approvals.js';
import { approvalRequired, modeFor, readOnlyOnly, spendApproval, startingAccess, type Access } from './access.js';
import type { ActClaim } from '../claims/act.js';
import { accountIdOf, actorAccountOf, actorKey, admit, authorizeByHook, chargeChain, type ActorIdentity, type AdmitInput, type Admitted } from './admission.js';
import type { Decision, VerifiedTokens } from './attempt.js';
import { decide, type ExchangeContext } from './kinds.js';
import type { ActorRateLimiter } from './rate-limit.js';

export type { Access } from './access.js';
export type { ActorIdentity, Admitted } from './admission.js';
export type { ExchangeContext } from './kinds.js';

/** What the rule module needs, injected once at registration. */
export interface RuleDependencies {
  readonly options: ResolvedOptions;
  readonly rateLimiter: ActorRateLimiter;
  readonly approvals: ApprovalStore;
}

/**
 * docs/grant.md, docs/policy.md: the rules every exchange and every impersonation passes, whichever
 * door it comes through — the token-exchange grant (every kind: RFC 8693 §1.1 impersonation, a
 * §4.1 chain passed on, delegation) or a browser ticket (docs/browser-impersonation.md §1). One
 * implementation, so the doors cannot drift. Who may act for whom is in src/exchange/admission.ts
 * (the rate limit, the actor's live account and role, the subject's account, `may_act`, the reason,
 * the `authorize` hook), how an impersonation may act in src/exchange/access.ts (the subject's
 * approval, the mode), and the three kinds of exchange in src/exchange/kinds.ts.
 */
export function createImpersonationRules(deps: RuleDependencies) {
  const { policy } = deps.options;
  const decideDeps = { ...deps, policy };
  return {
    actorKey,
    /** The local account id of a verified identity (`hooks.resolveSubject` for trusted issuers). */
    accountIdOf: (identity: ActorIdentity): Promise<string | undefined> => accountIdOf(deps, identity),
    /** docs/policy.md: the actor's account, read live, must be allowed to impersonate right now. */
    actorAccountOf: (actor: ActorIdentity): Promise<DirectoryAccount> => actorAccountOf(deps, actor),
    /** Admits the start of an impersonation, or throws the refusal naming the first rule broken. */
    admit: (input: AdmitInput): Promise<Admitted> => admit(deps, input),
    /** docs/policy.md: a chain counts against the person who started it. */
    chargeChain: (chain: ActClaim): Promise<void> => chargeChain(deps, chain),
    /** docs/policy.md: the host's `authorize` hook has the last say. */
    authorizeByHook: (input: AuthorizeInput): Promise<void> => authorizeByHook(deps, input),
    /** `policy.requireSubjectApproval` for this actor and subject. */
    approvalRequired: (actor: DirectoryAccount, subject: DirectoryAccount): boolean => approvalRequired(policy, actor, subject),
    /** Whether policy holds this actor to read-only impersonation. */
    readOnlyOnly: (actor: DirectoryAccount): boolean => readOnlyOnly(policy, actor),
    /** The mode of an impersonation, or the refusal of a mode beyond the actor's or the approval's ceiling. */
    modeFor: (requested: ImpersonationMode | undefined, actor: DirectoryAccount, approvalMode: ImpersonationMode | undefined): ImpersonationMode =>
      modeFor(policy, requested, actor, approvalMode),
    /** How an admitted impersonation may act: the subject's approval, then the mode. Both doors call it after `admit`. */
    access: (input: { actor: DirectoryAccount; subject: DirectoryAccount; approvalId: string | undefined; mode: ImpersonationMode | undefined }): Promise<Access> =>
      startingAccess({ policy, approvals: deps.approvals }, input),
    /** Spends the approval's single use; called last, so a refusal never costs it. */
    spendApproval: (approval: ApprovalRecord | undefined): Promise<void> => spendApproval(deps, approval),
    /** Decides a token exchange of verified tokens, whichever its kind (RFC 8693 §1.1). */
    decide: (tokens: VerifiedTokens, context: ExchangeContext): Promise<Decision> => decide(decideDeps, tokens, context),
  };
}

export type ImpersonationRules = ReturnType<typeof createImpersonationRules>;
