import { randomUUID } from 'node:crypto';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { ResolvedOptions } from '../config.js';
import { APPROVAL_MIN_DURATION_SECONDS, HARD_MAX_LIFETIME_SECONDS, type ImpersonationMode } from '../constants.js';
import { ExchangeRefusal, invalidRequest } from '../errors.js';
import type { ActorIdentity, ImpersonationRules } from '../exchange/rules.js';
import { impersonationScopes } from '../exchange/checks.js';
import { validateReason } from '../exchange/reason.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { Logger } from '../observability/logger.js';
import { approvalRequestedNotice } from '../notify/notice.js';
import type { SubjectNotifier } from '../notify/notifier.js';
import type { ApprovalRecord, ApprovalStore } from '../store/approvals.js';
import type { ApprovalLinks } from './links.js';

/** What a support agent asks for (in the console, or `POST /admin/api/approvals`). */
export interface ApprovalRequest {
  readonly actor: ActorIdentity;
  readonly subject: string;
  readonly reason: string | undefined;
  /** Scopes asked for; none: whatever policy allows. */
  readonly scopes?: readonly string[] | undefined;
  /** How long the access may last once approved; default `approvals.defaultDurationSeconds`. */
  readonly durationSeconds?: number | undefined;
  readonly mode?: ImpersonationMode | undefined;
}

/** Where a request stands, as the console, the subject's page and the admin API show it. */
export type ApprovalState = 'pending' | 'approved' | 'declined' | 'revoked' | 'expired' | 'used';

/** A request for the subject's approval, as the admin API answers it. */
export interface ApprovalView {
  readonly id: string;
  readonly actor: string;
  readonly subject: string;
  readonly reason: string | undefined;
  readonly scope: string | undefined;
  readonly duration_seconds: number;
  readonly mode: ImpersonationMode;
  readonly state: ApprovalState;
  readonly requested_at: string;
  readonly answer_by: string;
  readonly decided_at?: string | undefined;
  readonly approved_until?: string | undefined;
}

/** How a subject answered: signed in on their account page, or through the one-time link. */
export type AnswerChannel = 'page' | 'link';

/** A subject's answer that cannot be taken: unknown (404) or no longer open (409). Public text only. */
export class ApprovalAnswerError extends Error {
  constructor(
    readonly status: 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalAnswerError';
  }
}

interface Dependencies {
  readonly options: ResolvedOptions;
  readonly rules: ImpersonationRules;
  readonly store: ApprovalStore;
  readonly links: ApprovalLinks;
  readonly recorder: AuditRecorder;
  readonly lifecycle: ImpersonationLifecycle;
  readonly notifier: SubjectNotifier;
  readonly logger: Logger;
  readonly isEnabled: () => Promise<boolean>;
  /** The account page's one-time-link route (`<issuer><base>/approvals/respond`), once it is mounted. */
  readonly linkRoute: () => string | undefined;
}

type Decision = 'approve' | 'decline';

const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const epoch = () => Math.floor(Date.now() / 1000);
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/**
 * Subject-approved support access (beyond RFC 8693): the actor asks, the subject approves or
 * declines (on their account page, or through a signed one-time link delivered by
 * `hooks.notifySubject`), an approved request opens a window in which it can start one
 * impersonation (the rules spend it), and the subject may revoke it at any time, which ends what
 * started under it. Every step is audited.
 */
export function createApprovalService(deps: Dependencies) {
  return {
    /**
     * The actor asks: every rule of an impersonation that can be checked now (the switch, the
     * actor's live role, the subject rules, the reason, the rate limit, the mode), then the request
     * is stored, audited (`approval.requested`) and the subject told.
     */
    request: (input: ApprovalRequest, facts: RequestFacts) => requestApproval(deps, input, facts),
    /** The subject approves or declines a pending request; approving opens its window. */
    answer: (id: string, subject: string, decision: Decision, channel: AnswerChannel, facts: RequestFacts) => answer(deps, id, subject, decision, channel, facts),
    /**
     * The subject withdraws an approval at any time: it can no longer be used, and every
     * impersonation started under it ends (its tokens, its session). Answers how many ended.
     */
    revoke: (id: string, subject: string, facts: RequestFacts) => revoke(deps, id, subject, facts),
    /**
     * Called once an impersonation under an approval is indexed: a revocation that raced with its
     * start (and listed the subject's impersonations before this one was there) still ends it.
     * Never throws: the impersonation has already started.
     */
    confirmStarted: (approvalId: string | undefined, grantId: string, facts: RequestFacts) => confirmStarted(deps, approvalId, grantId, facts),
    /** The request a one-time link stands for, while its signature holds and it has not expired. */
    fromLink: (token: string) => fromLink(deps, token),
    /** The subject answers through the one-time link: spent at once, whatever the answer. */
    answerByLink: (token: string, decision: Decision, facts: RequestFacts) => answerByLink(deps, token, decision, facts),
    list: (filter: { subject: string } | { actor: string }) => list(deps.store, filter),
    view: (record: ApprovalRecord, now = epoch()) => view(deps.store, record, now),
    /** The longest an approved window may last: `policy.maxLifetimeSeconds`, never above the hard ceiling (docs/policy.md). */
    maxDuration: () => maxDuration(deps.options.policy),
  };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;

type Policy = ResolvedOptions['policy'];

function maxDuration(policy: Policy): number {
  return Math.min(HARD_MAX_LIFETIME_SECONDS, policy.maxLifetimeSeconds);
}

function durationOf(options: ResolvedOptions, requested: number | undefined): number {
  const max = maxDuration(options.policy);
  const duration = requested ?? Math.min(options.approvals.defaultDurationSeconds, max);
  if (!Number.isInteger(duration) || duration < APPROVAL_MIN_DURATION_SECONDS || duration > max) {
    throw invalidRequest('approval_invalid', `duration must be ${APPROVAL_MIN_DURATION_SECONDS} to ${max} seconds`, String(requested));
  }
  return duration;
}

// The scopes asked for must be ones an impersonation (in this mode) may ever carry.
function scopesOf(policy: Policy, requested: readonly string[] | undefined, mode: ImpersonationMode): string[] | undefined {
  const scopes = [...new Set(requested ?? [])];
  if (scopes.length === 0) return undefined;
  if (!scopes.every((s) => SCOPE_TOKEN.test(s) && s.length <= 100)) throw invalidRequest('approval_invalid', 'scope must be space-separated scope tokens');
  const allowed = new Set(impersonationScopes(scopes, policy));
  const refused = scopes.filter((s) => !allowed.has(s) || (mode === 'read' && !policy.readOnlyScopes!.includes(s)));
  if (refused.length) throw invalidRequest('approval_invalid', `an impersonation cannot be granted: ${refused.join(' ')}`);
  return scopes;
}

async function stateOf(store: ApprovalStore, record: ApprovalRecord, now: number): Promise<ApprovalState> {
  if (record.status === 'pending') return record.answerBy <= now ? 'expired' : 'pending';
  if (record.status !== 'approved') return record.status;
  const use = await store.use(record.id);
  if (use === 'used') return 'used';
  return use === 'closed' || (record.approvedUntil ?? 0) <= now ? 'expired' : 'approved';
}

async function view(store: ApprovalStore, record: ApprovalRecord, now: number): Promise<ApprovalView> {
  return {
    id: record.id,
    actor: record.actor,
    subject: record.subject,
    reason: record.reason,
    scope: record.scopes?.join(' '),
    duration_seconds: record.durationSeconds,
    mode: record.mode,
    state: await stateOf(store, record, now),
    requested_at: iso(record.requestedAt),
    answer_by: iso(record.answerBy),
    ...(record.decidedAt !== undefined ? { decided_at: iso(record.decidedAt) } : {}),
    ...(record.approvedUntil !== undefined ? { approved_until: iso(record.approvedUntil) } : {}),
  };
}

async function list(store: ApprovalStore, filter: { subject: string } | { actor: string }): Promise<ApprovalView[]> {
  const now = epoch();
  return Promise.all((await store.list(filter)).map((record) => view(store, record, now)));
}

async function requestApproval(deps: Dependencies, input: ApprovalRequest, facts: RequestFacts): Promise<ApprovalView> {
  let reason: string | undefined;
  try {
    if (!(await deps.isEnabled())) throw new ExchangeRefusal('impersonation_disabled', 'access_denied', 'impersonation is disabled', { status: 403 });
    reason = validateReason(input.reason);
    const { record, actorName } = await admitRequest(deps, input, reason);
    const notice = await requestedNotice(deps, record, actorName);
    await deps.recorder.record(
      'approval.requested',
      { outcome: 'granted', actor: record.actor, subject: record.subject, reason, scope: notice.scope, mode: record.mode, approval_id: record.id, expires_at: notice.answer_by },
      facts,
      { notice },
    );
    await deps.store.create(record, record.requestedAt);
    deps.notifier.notify(notice);
    return view(deps.store, record, record.requestedAt);
  } catch (err) {
    if (err instanceof ExchangeRefusal) await auditRefusal(deps.recorder, err, input, reason, facts);
    throw err;
  }
}

// The rules an impersonation would pass, checked now; the pending request they allow.
async function admitRequest(deps: Pick<Dependencies, 'options' | 'rules'>, input: ApprovalRequest, reason: string | undefined): Promise<{ record: ApprovalRecord; actorName: string | undefined }> {
  const { actorAccount, subjectAccount } = await deps.rules.admit({ actor: input.actor, subjectId: input.subject, clientId: '', reason });
  const mode = deps.rules.modeFor(input.mode, actorAccount, undefined);
  const durationSeconds = durationOf(deps.options, input.durationSeconds);
  const scopes = scopesOf(deps.options.policy, input.scopes, mode);
  const now = epoch();
  const record: ApprovalRecord = {
    id: randomUUID(),
    actor: actorAccount.id,
    subject: subjectAccount.id,
    reason,
    scopes,
    durationSeconds,
    mode,
    requestedAt: now,
    answerBy: now + deps.options.approvals.requestLifetimeSeconds,
    status: 'pending',
  };
  return { record, actorName: actorAccount.name };
}

// What the subject is told of a request, with the one-time link once the account page is mounted.
async function requestedNotice(deps: Pick<Dependencies, 'links' | 'linkRoute'>, record: ApprovalRecord, actorName: string | undefined) {
  return approvalRequestedNotice({
    subject: record.subject,
    actor: record.actor,
    actor_name: actorName,
    reason: record.reason,
    scope: record.scopes?.join(' '),
    duration_seconds: record.durationSeconds,
    mode: record.mode,
    approval_id: record.id,
    answer_by: iso(record.answerBy),
    link: await linkFor(deps, record),
  });
}

async function linkFor(deps: Pick<Dependencies, 'links' | 'linkRoute'>, record: ApprovalRecord): Promise<string | undefined> {
  const route = deps.linkRoute();
  if (!route) return undefined;
  return `${route}?token=${await deps.links.sign({ approvalId: record.id, expiresAt: record.answerBy })}`;
}

async function auditRefusal(recorder: AuditRecorder, err: ExchangeRefusal, input: ApprovalRequest, reason: string | undefined, facts: RequestFacts): Promise<void> {
  try {
    await recorder.record('approval.requested', { outcome: err.status >= 500 ? 'error' : 'denied', rule: err.rule, actor: input.actor.sub, subject: input.subject, reason }, facts);
  } catch {
    // The refusal stands; the sink reports its own failure.
  }
}

async function own(store: ApprovalStore, id: string, subject: string): Promise<ApprovalRecord> {
  const record = await store.get(id);
  if (!record || record.subject !== subject) throw new ApprovalAnswerError(404, 'There is no such request.');
  return record;
}

async function answer(deps: Pick<Dependencies, 'store' | 'recorder'>, id: string, subject: string, decision: Decision, channel: AnswerChannel, facts: RequestFacts): Promise<ApprovalView> {
  const { store, recorder } = deps;
  const record = await own(store, id, subject);
  const now = epoch();
  if (record.status !== 'pending') throw new ApprovalAnswerError(409, 'This request was already answered.');
  if (record.answerBy <= now) throw new ApprovalAnswerError(409, 'This request has lapsed: it was not answered in time.');
  const by = channel === 'page' ? 'subject' : 'link';
  const fields = { actor: record.actor, subject: record.subject, reason: record.reason, scope: record.scopes?.join(' '), mode: record.mode, approval_id: record.id };
  if (decision === 'approve') {
    const approved: ApprovalRecord = { ...record, status: 'approved', decidedAt: now, approvedUntil: now + record.durationSeconds };
    await recorder.record('approval.granted', { outcome: 'granted', rule: `approved_by_${by}`, ...fields, expires_at: iso(approved.approvedUntil!) }, facts);
    await store.update(approved, now);
    await store.openWindow(record.id, approved.approvedUntil!, now);
    return view(store, approved, now);
  }
  const declined: ApprovalRecord = { ...record, status: 'declined', decidedAt: now };
  await recorder.record('approval.declined', { outcome: 'granted', rule: `declined_by_${by}`, ...fields }, facts);
  await store.update(declined, now);
  await store.closeWindow(record.id);
  return view(store, declined, now);
}

async function revoke(deps: Pick<Dependencies, 'store' | 'recorder' | 'lifecycle'>, id: string, subject: string, facts: RequestFacts): Promise<number> {
  const record = await own(deps.store, id, subject);
  if (record.status !== 'approved') throw new ApprovalAnswerError(409, 'Only an approval can be revoked.');
  const now = epoch();
  await deps.recorder.record(
    'approval.revoked',
    { outcome: 'granted', rule: 'revoked_by_subject', actor: record.actor, subject: record.subject, reason: record.reason, mode: record.mode, approval_id: record.id },
    facts,
  );
  await deps.store.update({ ...record, status: 'revoked', decidedAt: now }, now);
  await deps.store.closeWindow(record.id);
  return endUnder(deps.lifecycle, record, facts);
}

async function endUnder(lifecycle: ImpersonationLifecycle, record: ApprovalRecord, facts: RequestFacts): Promise<number> {
  const live = (await lifecycle.list({ subject: record.subject })).filter((r) => r.approvalId === record.id);
  let ended = 0;
  for (const impersonation of live) ended += await lifecycle.revokeGrant(impersonation.grantId, 'approval_revoked', { actor: record.subject, request: facts });
  return ended;
}

async function confirmStarted(deps: Pick<Dependencies, 'store' | 'lifecycle' | 'logger'>, approvalId: string | undefined, grantId: string, facts: RequestFacts): Promise<void> {
  if (!approvalId) return;
  try {
    const record = await deps.store.get(approvalId);
    if (record?.status === 'revoked') await deps.lifecycle.revokeGrant(grantId, 'approval_revoked', { actor: record.subject, request: facts });
  } catch (err) {
    // The impersonation has started and its answer is on its way: it is not failed afterwards.
    const { name, message } = err instanceof Error ? err : new Error(String(err));
    deps.logger.warn({ err: { name, message }, approval_id: approvalId, request_id: facts.requestId }, 'could not re-check an approval after its use');
  }
}

async function fromLink(deps: Pick<Dependencies, 'links' | 'store'>, token: string): Promise<ApprovalRecord | undefined> {
  const claims = await deps.links.verify(token, epoch());
  return claims ? deps.store.get(claims.approvalId) : undefined;
}

async function answerByLink(deps: Pick<Dependencies, 'links' | 'store' | 'recorder'>, token: string, decision: Decision, facts: RequestFacts): Promise<ApprovalView> {
  const record = await fromLink(deps, token);
  if (!record) throw new ApprovalAnswerError(404, 'This link is not valid, or it has expired.');
  if (record.status !== 'pending') throw new ApprovalAnswerError(409, 'This request was already answered.');
  if (!(await deps.store.spendLink(record.id, epoch()))) throw new ApprovalAnswerError(409, 'This link was already used.');
  return answer(deps, record.id, record.subject, decision, 'link', facts);
}
