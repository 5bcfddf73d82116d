import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { ResolvedOptions } from '../config.js';
import { APPROVAL_MIN_DURATION_SECONDS } from '../constants.js';
import { clientProfile, profileRule } from '../exchange/actor-profiles.js';
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
  const { options, store, recorder } = deps;
  const { policy } = options;
  const agents = new Set(options.delegations.agents);

  function maxDuration(): number {
    return policy.maxLifetimeSeconds;
  }

  async function agentClient(id: string) {
    if (!agents.has(id)) return undefined;
    return deps.provider().Client.find(id);
  }

  function stateOf(r: DelegationRecord, now: number): DelegationView['state'] {
    if (r.status === 'pending' && r.answerBy <= now) return 'expired';
    if ((r.status === 'active' || r.status === 'paused') && (r.until ?? 0) <= now) return 'expired';
    return r.status;
  }

  async function view(r: DelegationRecord): Promise<DelegationView> {
    const client = await deps.provider().Client.find(r.agent);
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

  /**
   * The scopes a delegation may carry: asked ∩ the agent client's registered scope, never
   * offline_access nor the admin scope, only `policy.readOnlyScopes` when the agent's kind is
   * read-only (policy.actorProfiles) or the user leaves "read-only" on.
   */
  function allowedScopes(client: unknown, asked: readonly string[] | undefined, readOnly: boolean): string[] {
    const registered = String((client as { scope?: unknown }).scope ?? '').split(' ').filter(Boolean);
    let scopes = asked ? registered.filter((s) => asked.includes(s)) : registered;
    scopes = scopes.filter((s) => s !== 'offline_access' && s !== 'impersonation:admin' && s !== 'openid');
    if (readOnly && policy.readOnlyScopes) scopes = scopes.filter((s) => policy.readOnlyScopes!.includes(s));
    return scopes;
  }

  /** The rules for whom an agent may act: a live, enabled account; a protected one only if its kind may. */
  async function assertSubject(subject: string, client: unknown): Promise<void> {
    const account = await options.accounts.findAccount(subject);
    const rule = profileRule(policy, [clientProfile(client)]);
    const protectedRole = account?.roles.find((role) => policy.protectedRoles.includes(role));
    if (!account || account.disabled || (protectedRole && !rule.protectedSubjects)) {
      throw new DelegationError(400, 'invalid_request', 'this user cannot delegate to this agent', account ? `${subject}: disabled or protected` : `${subject}: unknown`);
    }
  }

  /** The agent asks a user for a delegation. */
  async function request(agent: string, input: { subject: unknown; scope: unknown; reason: unknown }, facts: RequestFacts): Promise<DelegationView> {
    const client = await agentClient(agent);
    if (!client) throw new DelegationError(403, 'unauthorized_client', 'this client may not ask for delegations', agent);
    if (!(await deps.isEnabled())) throw new DelegationError(400, 'invalid_request', 'delegation is disabled', 'the switch is off');
    if (typeof input.subject !== 'string' || input.subject === '') throw new DelegationError(400, 'invalid_request', "missing required parameter 'subject'");
    const reason = typeof input.reason === 'string' ? input.reason.trim() : undefined;
    if (reason !== undefined && (reason.length > 200 || CONTROL.test(reason))) {
      throw new DelegationError(400, 'invalid_request', 'reason must be at most 200 characters, without control characters');
    }
    const asked = typeof input.scope === 'string' ? input.scope.split(' ').filter(Boolean) : undefined;
    const scopes = allowedScopes(client, asked, profileRule(policy, [clientProfile(client)]).readOnly);
    if (scopes.length === 0) throw new DelegationError(400, 'invalid_scope', 'none of the requested scopes may be delegated to this agent');
    await assertSubject(input.subject, client);
    const now = epoch();
    const record: DelegationRecord = {
      id: randomUUID(),
      agent,
      subject: input.subject,
      reason: reason || undefined,
      scopes,
      durationSeconds: Math.min(options.delegations.defaultDurationSeconds, maxDuration()),
      status: 'pending',
      requestedAt: now,
      answerBy: now + options.delegations.requestLifetimeSeconds,
    };
    await recorder.record('delegation.requested', { outcome: 'granted', actor: agent, subject: record.subject, client_id: agent, reason: record.reason, scope: scopes.join(' '), delegation_id: record.id }, facts);
    await store.create(record, now);
    return view(record);
  }

  async function ownRecord(id: string, subject: string): Promise<DelegationRecord> {
    const record = await store.get(id);
    if (!record || record.subject !== subject) throw new DelegationError(404, 'not_found', 'unknown delegation');
    return record;
  }

  /**
   * The user grants a request: the scopes (a subset of those asked; read-only ones only unless
   * `readOnly` is off and the agent's kind allows more) and the duration (60 s up to
   * `policy.maxLifetimeSeconds`).
   */
  async function grant(id: string, subject: string, choice: { scopes?: readonly string[] | undefined; durationSeconds?: number | undefined; readOnly?: boolean | undefined }, facts: RequestFacts): Promise<DelegationView> {
    const record = await ownRecord(id, subject);
    const now = epoch();
    if (stateOf(record, now) !== 'pending') throw new DelegationError(409, 'invalid_request', 'this request was already answered or has lapsed');
    const client = await deps.provider().Client.find(record.agent);
    if (!client) throw new DelegationError(409, 'invalid_request', 'this agent no longer exists');
    await assertSubject(subject, client);
    const duration = choice.durationSeconds ?? record.durationSeconds;
    if (!Number.isInteger(duration) || duration < APPROVAL_MIN_DURATION_SECONDS || duration > maxDuration()) {
      throw new DelegationError(400, 'invalid_request', `duration must be ${APPROVAL_MIN_DURATION_SECONDS} to ${maxDuration()} seconds`);
    }
    const readOnly = choice.readOnly !== false || profileRule(policy, [clientProfile(client)]).readOnly;
    const scopes = allowedScopes(client, choice.scopes ?? record.scopes, readOnly).filter((s) => record.scopes.includes(s));
    if (scopes.length === 0) throw new DelegationError(400, 'invalid_scope', 'choose at least one of the scopes the agent asked for');
    const granted: DelegationRecord = { ...record, scopes, durationSeconds: duration, status: 'active', grantedAt: now, until: now + duration };
    await recorder.record(
      'delegation.granted',
      { outcome: 'granted', rule: 'granted_by_subject', actor: record.agent, subject, client_id: record.agent, reason: record.reason, scope: scopes.join(' '), expires_at: iso(granted.until!), delegation_id: id },
      facts,
    );
    await store.update(granted, now);
    await store.armCollection(id, granted.until!, now);
    return view(granted);
  }

  /**
   * One answer of the subject to a delegation in one of the `from` states: audited, then stored
   * (as `change` makes it), then `after` (the tokens it ends, the collection it re-arms).
   */
  async function transition(
    id: string,
    subject: string,
    facts: RequestFacts,
    step: {
      readonly from: ReadonlyArray<DelegationView['state']>;
      readonly refusal: string;
      readonly event: 'delegation.declined' | 'delegation.paused' | 'delegation.resumed' | 'delegation.ended';
      readonly rule: string;
      readonly change: (record: DelegationRecord, now: number) => DelegationRecord;
      readonly after?: (record: DelegationRecord, now: number) => Promise<void>;
    },
  ): Promise<DelegationView> {
    const record = await ownRecord(id, subject);
    const now = epoch();
    if (!step.from.includes(stateOf(record, now))) throw new DelegationError(409, 'invalid_request', step.refusal);
    await recorder.record(step.event, { outcome: 'granted', rule: step.rule, actor: record.agent, subject, client_id: record.agent, delegation_id: id }, facts);
    const changed = step.change(record, now);
    await store.update(changed, now);
    await step.after?.(record, now);
    return view(changed);
  }

  const decline = (id: string, subject: string, facts: RequestFacts) =>
    transition(id, subject, facts, {
      from: ['pending'],
      refusal: 'this request was already answered or has lapsed',
      event: 'delegation.declined',
      rule: 'declined_by_subject',
      change: (record, now) => ({ ...record, status: 'declined', endedAt: now }),
    });

  /** Ends every token derived from the delegation: the subject token's grant and all it yielded. */
  async function endTokens(record: DelegationRecord, cause: 'delegation_paused' | 'delegation_ended', facts: RequestFacts): Promise<void> {
    await store.disarm(record.id);
    if (record.grantId) await deps.lifecycle().revokeGrant(record.grantId, cause, { actor: record.subject, request: facts }, { includeGrant: true });
  }

  /** Pausing ends every token of it now; resuming lets the agent collect a new one, within the same end. */
  const pause = (id: string, subject: string, facts: RequestFacts) =>
    transition(id, subject, facts, {
      from: ['active'],
      refusal: 'only an active delegation can be paused',
      event: 'delegation.paused',
      rule: 'paused_by_subject',
      change: (record) => ({ ...record, status: 'paused', grantId: undefined }),
      after: (record) => endTokens(record, 'delegation_paused', facts),
    });

  const resume = (id: string, subject: string, facts: RequestFacts) =>
    transition(id, subject, facts, {
      from: ['paused'],
      refusal: 'only a paused delegation can be resumed',
      event: 'delegation.resumed',
      rule: 'resumed_by_subject',
      change: (record) => ({ ...record, status: 'active' }),
      after: (record, now) => store.armCollection(id, record.until!, now),
    });

  const end = (id: string, subject: string, facts: RequestFacts) =>
    transition(id, subject, facts, {
      from: ['active', 'paused'],
      refusal: 'only an active or paused delegation can be ended',
      event: 'delegation.ended',
      rule: 'ended_by_subject',
      change: (record, now) => ({ ...record, status: 'ended', endedAt: now, grantId: undefined }),
      after: (record) => endTokens(record, 'delegation_ended', facts),
    });

  /**
   * The agent reads its delegation; the first read after it is granted (or resumed) also collects
   * the subject token — once: `consumeEntity` makes the collection single-use on every instance.
   */
  async function collect(id: string, agent: string, facts: RequestFacts): Promise<CollectedDelegation> {
    const record = await store.get(id);
    if (!record || record.agent !== agent) throw new DelegationError(404, 'not_found', 'unknown delegation');
    const now = epoch();
    const shown = await view(record);
    if (shown.state !== 'active' || !(await store.collect(id, now))) return shown;
    const provider = deps.provider();
    const client = await provider.Client.find(agent);
    if (!client) throw new DelegationError(409, 'invalid_request', 'this agent no longer exists');
    const lifetime = record.until! - now;
    const grant = new provider.Grant({ accountId: record.subject, clientId: agent });
    grant.addOIDCScope(record.scopes.join(' '));
    (grant as unknown as { expiresIn: number }).expiresIn = lifetime;
    const grantId = await grant.save();
    const token = new provider.AccessToken({ accountId: record.subject, client, grantId, scope: record.scopes.join(' '), expiresIn: lifetime, gty: 'delegation' });
    // RFC 8693 §4.4: only this agent may act with it.
    deps.attachClaims(token, { may_act: { sub: agent, client_id: agent }, delegation: { id } });
    const value = await token.save();
    // Paused or ended while collecting: what was just minted ends at once.
    const current = await store.get(id);
    if (current?.status !== 'active') {
      await deps.lifecycle().revokeGrant(grantId, 'delegation_ended', { actor: record.subject, request: facts }, { includeGrant: true });
      return view(current ?? record);
    }
    await store.update({ ...current, grantId }, now);
    await recorder.record('delegation.collected', { outcome: 'granted', actor: agent, subject: record.subject, client_id: agent, scope: record.scopes.join(' '), expires_at: iso(record.until!), delegation_id: id }, facts);
    return { ...shown, subject_token: value, subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' };
  }

  async function list(filter: { subject: string } | { agent: string }): Promise<DelegationView[]> {
    return Promise.all((await store.list(filter)).map(view));
  }

  /** For the grant: the delegation a subject token belongs to must be active and this token's. */
  async function standing(id: string, grantId: string | undefined): Promise<(DelegationRecord & { first: boolean }) | undefined> {
    const record = await store.get(id);
    if (!record || stateOf(record, epoch()) !== 'active' || record.grantId === undefined || record.grantId !== grantId) return undefined;
    // The user's history lists a delegation once per collected token, not every exchange of it.
    const first = record.listedFor !== grantId;
    if (first) await store.update({ ...record, listedFor: grantId }, epoch());
    return { ...record, first };
  }

  return { request, grant, decline, pause, resume, end, collect, list, standing, maxDuration, agents: () => [...agents] };
}

export type DelegationService = ReturnType<typeof createDelegationService>;
