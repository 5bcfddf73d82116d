import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { ResolvedOptions } from '../config.js';
import { APPROVAL_MIN_DURATION_SECONDS } from '../constants.js';
import { clientProfile } from '../claims/profiles.js';
import { profileRule } from '../exchange/actor-profiles.js';
import type { ImpersonationLifecycle } from '../lifecycle/service.js';
import type { DelegationRecord, DelegationStore } from '../store/delegations.js';

/*
 * Delegation to agents (docs/beyond-impersonation.md "Delegation to agents"). A user lets an agent
 * client act for them: the agent asks, the user grants (scopes, read-only by default; a duration,
 * at most policy.maxLifetimeSeconds), and may pause or end it. The agent collects, once, a subject
 * token recorded under a grant of its own, carrying `may_act` naming the agent (RFC 8693 §4.4), and
 * exchanges it with its own client-credentials token as `actor_token`; what it gets carries
 * `act: { sub: <agent>, sub_profile: <its kind> }` (draft-mcguinness-oauth-actor-profile §3.4) and
 * ends with the delegation.
 */

/** A refusal of a delegation call: HTTP status, OAuth-style error, fixed public description. */
export class DelegationError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly detail?: string,
  ) {
    super(description);
    this.name = 'DelegationError';
  }
}

/** What callers see of a delegation: no token, no grant id. */
export interface DelegationView {
  readonly id: string;
  readonly agent: string;
  readonly agent_name: string | undefined;
  readonly agent_profile: string;
  readonly subject: string;
  readonly reason: string | undefined;
  readonly scope: string;
  readonly duration_seconds: number;
  readonly state: 'pending' | 'active' | 'paused' | 'ended' | 'declined' | 'expired';
  readonly requested_at: string;
  readonly answer_by: string;
  readonly until?: string | undefined;
}

/** The agent's view once a subject token is collected (RFC 8693 §2.1 `subject_token`). */
export interface CollectedDelegation extends DelegationView {
  readonly subject_token?: string;
  readonly subject_token_type?: string;
}

interface Dependencies {
  readonly options: ResolvedOptions;
  readonly provider: () => Provider;
  readonly store: DelegationStore;
  readonly lifecycle: () => ImpersonationLifecycle;
  readonly recorder: AuditRecorder;
  /** Attaches extra claims to a token before it is saved (read back by `extraTokenClaims`). */
  readonly attachClaims: (token: object, claims: Record<string, unknown>) => void;
  readonly isEnabled: () => Promise<boolean>;
}

const epoch = () => Math.floor(Date.now() / 1000);
const iso = (s: number) => new Date(s * 1000).toISOString();
// No control (Cc) or format (Cf) characters in text a user reads (as for an impersonation's reason).
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/** The delegation service, shared by the agent API, the user's page and the grant. */
export function createDelegationService(deps: Dependencies) {
  return {
    /** The agent asks a user for a delegation. */
    request: (agent: string, input: { subject: unknown; scope: unknown; reason: unknown }, facts: RequestFacts) => request(deps, agent, input, facts),
    /**
     * The user grants a request: the scopes (a subset of those asked; read-only ones only unless
     * `readOnly` is off and the agent's kind allows more) and the duration (60 s up to
     * `policy.maxLifetimeSeconds`).
     */
    grant: (id: string, subject: string, choice: GrantChoice, facts: RequestFacts) => grant(deps, id, subject, choice, facts),
    decline: (id: string, subject: string, facts: RequestFacts) => transition(deps, id, subject, facts, DECLINE),
    /** Ends every token of the delegation now. */
    pause: (id: string, subject: string, facts: RequestFacts) => transition(deps, id, subject, facts, PAUSE),
    /** Lets the agent collect a new subject token, within the same end. */
    resume: (id: string, subject: string, facts: RequestFacts) => transition(deps, id, subject, facts, RESUME),
    end: (id: string, subject: string, facts: RequestFacts) => transition(deps, id, subject, facts, END),
    /**
     * The agent reads its delegation; the first read after it is granted (or resumed) also collects
     * the subject token — once: `consumeEntity` makes the collection single-use on every instance.
     */
    collect: (id: string, agent: string, facts: RequestFacts) => collect(deps, id, agent, facts),
    list: (filter: { subject: string } | { agent: string }) => list(deps.provider, deps.store, filter),
    /** For the grant: the delegation a subject token belongs to must be active and this token's. */
    standing: (id: string, grantId: string | undefined) => standing(deps.store, id, grantId),
    maxDuration: () => deps.options.policy.maxLifetimeSeconds,
    agents: () => [...new Set(deps.options.delegations.agents)],
  };
}

export type DelegationService = ReturnType<typeof createDelegationService>;

type Policy = ResolvedOptions['policy'];
type State = DelegationView['state'];
type GrantChoice = { scopes?: readonly string[] | undefined; durationSeconds?: number | undefined; readOnly?: boolean | undefined };

function stateOf(r: DelegationRecord, now: number): State {
  if (r.status === 'pending' && r.answerBy <= now) return 'expired';
  if ((r.status === 'active' || r.status === 'paused') && (r.until ?? 0) <= now) return 'expired';
  return r.status;
}

async function view(provider: () => Provider, r: DelegationRecord): Promise<DelegationView> {
  const client = await provider().Client.find(r.agent);
  return {
    id: r.id,
    agent: r.agent,
    agent_name: (client as { clientName?: string } | undefined)?.clientName,
    agent_profile: clientProfile(client),
    subject: r.subject,
    reason: r.reason,
    scope: r.scopes.join(' '),
    duration_seconds: r.durationSeconds,
    state: stateOf(r, epoch()),
    requested_at: iso(r.requestedAt),
    answer_by: iso(r.answerBy),
    ...(r.until ? { until: iso(r.until) } : {}),
  };
}

async function list(provider: () => Provider, store: DelegationStore, filter: { subject: string } | { agent: string }): Promise<DelegationView[]> {
  return Promise.all((await store.list(filter)).map((record) => view(provider, record)));
}

// The scopes a delegation may carry: asked ∩ the agent client's registered scope, never
// offline_access nor the admin scope, only `policy.readOnlyScopes` when the agent's kind is
// read-only (policy.actorProfiles) or the user leaves "read-only" on.
function allowedScopes(policy: Policy, client: unknown, asked: readonly string[] | undefined, readOnly: boolean): string[] {
  const registered = String((client as { scope?: unknown }).scope ?? '').split(' ').filter(Boolean);
  let scopes = asked ? registered.filter((s) => asked.includes(s)) : registered;
  scopes = scopes.filter((s) => s !== 'offline_access' && s !== 'impersonation:admin' && s !== 'openid');
  if (readOnly && policy.readOnlyScopes) scopes = scopes.filter((s) => policy.readOnlyScopes!.includes(s));
  return scopes;
}

// For whom an agent may act: a live, enabled account; a protected one only if its kind may.
async function assertSubject(options: ResolvedOptions, subject: string, client: unknown): Promise<void> {
  const { policy } = options;
  const account = await options.accounts.findAccount(subject);
  const rule = profileRule(policy, [clientProfile(client)]);
  const protectedRole = account?.roles.find((role) => policy.protectedRoles.includes(role));
  if (!account || account.disabled || (protectedRole && !rule.protectedSubjects)) {
    throw new DelegationError(400, 'invalid_request', 'this user cannot delegate to this agent', account ? `${subject}: disabled or protected` : `${subject}: unknown`);
  }
}

async function agentClient(deps: Pick<Dependencies, 'options' | 'provider'>, id: string) {
  if (!deps.options.delegations.agents.includes(id)) return undefined;
  return deps.provider().Client.find(id);
}

// The agent's subject, reason and asked scopes, as the request form gives them.
function readRequest(input: { subject: unknown; scope: unknown; reason: unknown }): { subject: string; reason: string | undefined; asked: string[] | undefined } {
  if (typeof input.subject !== 'string' || input.subject === '') throw new DelegationError(400, 'invalid_request', "missing required parameter 'subject'");
  const reason = typeof input.reason === 'string' ? input.reason.trim() : undefined;
  if (reason !== undefined && (reason.length > 200 || CONTROL.test(reason))) {
    throw new DelegationError(400, 'invalid_request', 'reason must be at most 200 characters, without control characters');
  }
  const asked = typeof input.scope === 'string' ? input.scope.split(' ').filter(Boolean) : undefined;
  return { subject: input.subject, reason: reason || undefined, asked };
}

async function request(deps: Dependencies, agent: string, input: { subject: unknown; scope: unknown; reason: unknown }, facts: RequestFacts): Promise<DelegationView> {
  const { options } = deps;
  const client = await agentClient(deps, agent);
  if (!client) throw new DelegationError(403, 'unauthorized_client', 'this client may not ask for delegations', agent);
  if (!(await deps.isEnabled())) throw new DelegationError(400, 'invalid_request', 'delegation is disabled', 'the switch is off');
  const { subject, reason, asked } = readRequest(input);
  const scopes = allowedScopes(options.policy, client, asked, profileRule(options.policy, [clientProfile(client)]).readOnly);
  if (scopes.length === 0) throw new DelegationError(400, 'invalid_scope', 'none of the requested scopes may be delegated to this agent');
  await assertSubject(options, subject, client);
  const now = epoch();
  const record: DelegationRecord = {
    id: randomUUID(),
    agent,
    subject,
    reason,
    scopes,
    durationSeconds: Math.min(options.delegations.defaultDurationSeconds, options.policy.maxLifetimeSeconds),
    status: 'pending',
    requestedAt: now,
    answerBy: now + options.delegations.requestLifetimeSeconds,
  };
  await deps.recorder.record('delegation.requested', { outcome: 'granted', actor: agent, subject, client_id: agent, reason, scope: scopes.join(' '), delegation_id: record.id }, facts);
  await deps.store.create(record, now);
  return view(deps.provider, record);
}

async function ownRecord(store: DelegationStore, id: string, subject: string): Promise<DelegationRecord> {
  const record = await store.get(id);
  if (!record || record.subject !== subject) throw new DelegationError(404, 'not_found', 'unknown delegation');
  return record;
}

async function grant(deps: Dependencies, id: string, subject: string, choice: GrantChoice, facts: RequestFacts): Promise<DelegationView> {
  const { options, store } = deps;
  const record = await ownRecord(store, id, subject);
  const now = epoch();
  if (stateOf(record, now) !== 'pending') throw new DelegationError(409, 'invalid_request', 'this request was already answered or has lapsed');
  const client = await deps.provider().Client.find(record.agent);
  if (!client) throw new DelegationError(409, 'invalid_request', 'this agent no longer exists');
  await assertSubject(options, subject, client);
  const duration = durationOf(options.policy, choice.durationSeconds ?? record.durationSeconds);
  const readOnly = choice.readOnly !== false || profileRule(options.policy, [clientProfile(client)]).readOnly;
  const scopes = allowedScopes(options.policy, client, choice.scopes ?? record.scopes, readOnly).filter((s) => record.scopes.includes(s));
  if (scopes.length === 0) throw new DelegationError(400, 'invalid_scope', 'choose at least one of the scopes the agent asked for');
  const granted: DelegationRecord = { ...record, scopes, durationSeconds: duration, status: 'active', grantedAt: now, until: now + duration };
  await deps.recorder.record(
    'delegation.granted',
    { outcome: 'granted', rule: 'granted_by_subject', actor: record.agent, subject, client_id: record.agent, reason: record.reason, scope: scopes.join(' '), expires_at: iso(granted.until!), delegation_id: id },
    facts,
  );
  await store.update(granted, now);
  await store.armCollection(id, granted.until!, now);
  return view(deps.provider, granted);
}

function durationOf(policy: Policy, duration: number): number {
  if (!Number.isInteger(duration) || duration < APPROVAL_MIN_DURATION_SECONDS || duration > policy.maxLifetimeSeconds) {
    throw new DelegationError(400, 'invalid_request', `duration must be ${APPROVAL_MIN_DURATION_SECONDS} to ${policy.maxLifetimeSeconds} seconds`);
  }
  return duration;
}

// One answer of the subject to a delegation in one of the `from` states: audited, then stored
// (as `change` makes it), then `after` (the tokens it ends, the collection it re-arms).
interface Transition {
  readonly from: readonly State[];
  readonly refusal: string;
  readonly event: 'delegation.declined' | 'delegation.paused' | 'delegation.resumed' | 'delegation.ended';
  readonly rule: string;
  readonly change: (record: DelegationRecord, now: number) => DelegationRecord;
  readonly after?: (deps: Dependencies, record: DelegationRecord, now: number, facts: RequestFacts) => Promise<void>;
}

async function transition(deps: Dependencies, id: string, subject: string, facts: RequestFacts, step: Transition): Promise<DelegationView> {
  const record = await ownRecord(deps.store, id, subject);
  const now = epoch();
  if (!step.from.includes(stateOf(record, now))) throw new DelegationError(409, 'invalid_request', step.refusal);
  await deps.recorder.record(step.event, { outcome: 'granted', rule: step.rule, actor: record.agent, subject, client_id: record.agent, delegation_id: id }, facts);
  const changed = step.change(record, now);
  await deps.store.update(changed, now);
  await step.after?.(deps, record, now, facts);
  return view(deps.provider, changed);
}

const DECLINE: Transition = {
  from: ['pending'],
  refusal: 'this request was already answered or has lapsed',
  event: 'delegation.declined',
  rule: 'declined_by_subject',
  change: (record, now) => ({ ...record, status: 'declined', endedAt: now }),
};

const PAUSE: Transition = {
  from: ['active'],
  refusal: 'only an active delegation can be paused',
  event: 'delegation.paused',
  rule: 'paused_by_subject',
  change: (record) => ({ ...record, status: 'paused', grantId: undefined }),
  after: (deps, record, _now, facts) => endTokens(deps, record, 'delegation_paused', facts),
};

const RESUME: Transition = {
  from: ['paused'],
  refusal: 'only a paused delegation can be resumed',
  event: 'delegation.resumed',
  rule: 'resumed_by_subject',
  change: (record) => ({ ...record, status: 'active' }),
  after: (deps, record, now) => deps.store.armCollection(record.id, record.until!, now),
};

const END: Transition = {
  from: ['active', 'paused'],
  refusal: 'only an active or paused delegation can be ended',
  event: 'delegation.ended',
  rule: 'ended_by_subject',
  change: (record, now) => ({ ...record, status: 'ended', endedAt: now, grantId: undefined }),
  after: (deps, record, _now, facts) => endTokens(deps, record, 'delegation_ended', facts),
};

// Ends every token derived from the delegation: the subject token's grant and all it yielded.
async function endTokens(deps: Pick<Dependencies, 'store' | 'lifecycle'>, record: DelegationRecord, cause: 'delegation_paused' | 'delegation_ended', facts: RequestFacts): Promise<void> {
  await deps.store.disarm(record.id);
  if (record.grantId) await deps.lifecycle().revokeGrant(record.grantId, cause, { actor: record.subject, request: facts }, { includeGrant: true });
}

async function collect(deps: Dependencies, id: string, agent: string, facts: RequestFacts): Promise<CollectedDelegation> {
  const { store } = deps;
  const record = await store.get(id);
  if (!record || record.agent !== agent) throw new DelegationError(404, 'not_found', 'unknown delegation');
  const now = epoch();
  const shown = await view(deps.provider, record);
  if (shown.state !== 'active' || !(await store.collect(id, now))) return shown;
  const { grantId, value } = await mintSubjectToken(deps, record, now);
  // Paused or ended while collecting: what was just minted ends at once.
  const current = await store.get(id);
  if (current?.status !== 'active') {
    await deps.lifecycle().revokeGrant(grantId, 'delegation_ended', { actor: record.subject, request: facts }, { includeGrant: true });
    return view(deps.provider, current ?? record);
  }
  await store.update({ ...current, grantId }, now);
  await deps.recorder.record('delegation.collected', { outcome: 'granted', actor: agent, subject: record.subject, client_id: agent, scope: record.scopes.join(' '), expires_at: iso(record.until!), delegation_id: id }, facts);
  return { ...shown, subject_token: value, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
}

// The subject token: an access token of a grant of its own, until the delegation's end, that only
// its agent may act with (RFC 8693 §4.4 `may_act`).
async function mintSubjectToken(deps: Pick<Dependencies, 'provider' | 'attachClaims'>, record: DelegationRecord, now: number): Promise<{ grantId: string; value: string }> {
  const provider = deps.provider();
  const { agent } = record;
  const client = await provider.Client.find(agent);
  if (!client) throw new DelegationError(409, 'invalid_request', 'this agent no longer exists');
  const lifetime = record.until! - now;
  const grant = new provider.Grant({ accountId: record.subject, clientId: agent });
  grant.addOIDCScope(record.scopes.join(' '));
  (grant as unknown as { expiresIn: number }).expiresIn = lifetime;
  const grantId = await grant.save();
  const token = new provider.AccessToken({ accountId: record.subject, client, grantId, scope: record.scopes.join(' '), expiresIn: lifetime, gty: 'delegation' });
  deps.attachClaims(token, { may_act: { sub: agent, client_id: agent }, delegation: { id: record.id } });
  return { grantId, value: await token.save() };
}

async function standing(store: DelegationStore, id: string, grantId: string | undefined): Promise<(DelegationRecord & { first: boolean }) | undefined> {
  const record = await store.get(id);
  if (!record || stateOf(record, epoch()) !== 'active' || record.grantId === undefined || record.grantId !== grantId) return undefined;
  // The user's history lists a delegation once per collected token, not every exchange of it.
  const first = record.listedFor !== grantId;
  if (first) await store.update({ ...record, listedFor: grantId }, epoch());
  return { ...record, first };
}
