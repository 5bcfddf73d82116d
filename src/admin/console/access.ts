import type { DirectoryAccount } from '../../accounts.js';
import { ExchangeRefusal } from '../../errors.js';
import { assertSubjectMayBeImpersonated } from '../../exchange/checks.js';
import type { AdminCaller } from '../auth.js';
import type { ConsoleContext } from './context.js';

/*
 * What an agent may do with a user, asked before they type a reason (docs/admin-console.md), and a
 * refusal in the words the console shows them.
 */

type AccessDeps = Pick<ConsoleContext, 'accounts' | 'rules' | 'approvals' | 'policy'>;

/**
 * A refusal in the words the console shows a signed-in agent (docs/admin-console.md#refusals-in-words): the
 * subject rule that refused, with the account's own facts and what could change it. The token
 * endpoint keeps its one public description for every subject refusal (docs/policy.md).
 */
function inWords(policy: ConsoleContext['policy'], refusal: ExchangeRefusal, subjectId: string, account: DirectoryAccount | undefined, actor: DirectoryAccount | undefined): string {
  const who = account?.name ?? account?.id ?? subjectId;
  switch (refusal.rule) {
    case 'subject_protected':
      return `${who} holds the protected role ${account?.roles.find((role) => policy.protectedRoles.includes(role)) ?? ''}: nobody can impersonate this account.`;
    case 'subject_other_tenant':
      return `${who} belongs to another tenant (${account?.tenant ?? 'none'}). You may impersonate users of your own tenant${actor?.tenant ? ` (${actor.tenant})` : ''} only, unless you hold the ${policy.globalRole} role.`;
    case 'subject_disabled':
      return 'This account is disabled: nobody can impersonate it until it is enabled again.';
    case 'subject_is_actor':
      return 'This is your own account: open the application as yourself instead.';
    case 'subject_unknown':
      return `There is no user “${subjectId}”.`;
    case 'subject_denied_by_hook':
      return "This provider's own authorization rule refused to let you impersonate this account. Ask an administrator why.";
    default: {
      const text = refusal.description.charAt(0).toUpperCase() + refusal.description.slice(1);
      return /[.!?]$/.test(text) ? text : `${text}.`;
    }
  }
}

/** The subject rules (src/exchange/checks.ts), asked before the agent types a reason: why not, in words, or undefined. */
function verdictFor(policy: ConsoleContext['policy'], actor: DirectoryAccount | undefined, account: DirectoryAccount): string | undefined {
  if (!actor) return undefined;
  try {
    assertSubjectMayBeImpersonated(account, account.id, actor, policy);
    return undefined;
  } catch (err) {
    if (!(err instanceof ExchangeRefusal)) throw err;
    return inWords(policy, err, account.id, account, actor);
  }
}

/** What the agent may do with this user now: may they at all, must they ask first, which approvals can they use, which modes. */
export async function accessFor(deps: AccessDeps, caller: AdminCaller, account: DirectoryAccount) {
  const actor = await deps.accounts.findAccount(caller.accountId);
  const verdict = verdictFor(deps.policy, actor, account);
  const required = actor ? deps.rules.approvalRequired(actor, account) : false;
  const readOnlyOnly = actor ? deps.rules.readOnlyOnly(actor) : false;
  const approvals = await deps.approvals.list({ subject: account.id });
  const usable = approvals.filter((a) => a.actor === caller.accountId && a.state === 'approved');
  return { verdict, required, readOnlyOnly, readOnlyAvailable: deps.policy.readOnlyScopes !== undefined, approvals, usable };
}

/** What {@link accessFor} found. */
export type AccessFacts = Awaited<ReturnType<typeof accessFor>>;

/** {@link inWords} for a refusal of the minting or approval rules, the accounts read live. */
export async function refusalInWords(deps: Pick<ConsoleContext, 'accounts' | 'policy'>, refusal: ExchangeRefusal, caller: AdminCaller, subjectId: string): Promise<string> {
  const [account, actor] = await Promise.all([deps.accounts.findAccount(subjectId), deps.accounts.findAccount(caller.accountId)]);
  return inWords(deps.policy, refusal, subjectId, account, actor);
}
