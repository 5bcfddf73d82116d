import { randomUUID } from 'node:crypto';
import type { TokenEndpointGrantContext } from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { ResolvedOptions } from '../config.js';
import { TokenType } from '../constants.js';
import { ExchangeRefusal, invalidRequest, subjectRefused, toProviderError } from '../errors.js';
import type { ImpersonationRecord } from '../store/impersonations.js';
import type { DirectoryAccount } from '../accounts.js';
import type { WriteBatch } from '../store/write-batch.js';
import type { Logger } from '../observability/logger.js';
import { startedNotice, type ImpersonationStartedNotice } from '../notify/notice.js';
import type { SubjectNotifier } from '../notify/notifier.js';
import { actorChain, wrapActor, type ActClaim } from './act.js';
import { accountProfile, clientProfile, profileRule, type ActorProfileRule } from './actor-profiles.js';
import { assertBoundTokenProven, verifyDpopProof } from './dpop.js';
import type { AboutToIssue, IssueDependencies, IssuePlan } from './issue.js';
import { AuditBeforeIssueError, issueTokens } from './issue.js';
import {
  assertActorTokenUnchained,
  assertChainLength,
  assertMayAct,
  assertSubjectActive,
  assertSubjectTokenRevocable,
  assertTracked,
  grantedScopes,
  lifetimeSeconds,
  subjectScopeLimit,
} from './checks.js';
import type { Access, ImpersonationRules } from './rules.js';
import { auditableReason, parseExchangeRequest, type ExchangeRequest } from './request.js';
import { resolveTarget, type ResourceServerRegistry } from './targets.js';
import { isIssuedTo, verifyToken, type ImpersonationFacts, type VerifiedToken, type VerifyContext } from './verify.js';

/** The store side of the grant: the shared switch and the index of live impersonations. */
export interface ImpersonationRegistry {
  isEnabled(): Promise<boolean>;
  add(record: ImpersonationRecord, ttlSeconds: number): Promise<void>;
  addJwt(jti: string, grantId: string, ttlSeconds: number, audience?: readonly string[]): Promise<void>;
  /** The live record of an exchanged token's grant (a chained subject token's impersonation). */
  get(grantId: string): Promise<ImpersonationRecord | undefined>;
}

/** What the grant needs, injected once at registration. */
export interface GrantDependencies {
  readonly registry: ImpersonationRegistry;
  readonly options: ResolvedOptions;
  readonly recorder: AuditRecorder;
  readonly verify: VerifyContext;
  readonly rules: ImpersonationRules;
  readonly resourceServers: ResourceServerRegistry;
  readonly issue: IssueDependencies;
  readonly requestFacts: (ctx: TokenEndpointGrantContext) => RequestFacts;
  readonly markAudited: (ctx: TokenEndpointGrantContext) => void;
  readonly observeDuration: (seconds: number, outcome: 'granted' | 'denied' | 'error') => void;
  readonly logger: Logger;
  /** Tells the subject an impersonation of their account started (`hooks.notifySubject`). */
  readonly notifier: SubjectNotifier;
  /** The user's delegation a subject token was collected for, while it is active and this token's. */
  readonly delegations: { standing(id: string, grantId: string | undefined): Promise<{ id: string; agent: string; reason: string | undefined; grantedAt?: number | undefined; first: boolean } | undefined> };
  /** Ends an impersonation whose approval was revoked while it started. */
  readonly confirmStarted: (approvalId: string | undefined, grantId: string, facts: RequestFacts) => Promise<void>;
}

/** Facts gathered while deciding, so a refusal's audit record says as much as is known. */
interface Attempt {
  actor?: string;
  subject?: string;
  reason?: string;
  scope?: string;
  audience?: string[];
}

/** The acting party: a verified actor token, or — in a chained exchange without one — the client. */
interface ActingParty {
  readonly sub: string;
  readonly iss: string | undefined;
  readonly token: VerifiedToken | undefined;
}

interface Subject {
  readonly id: string;
  readonly token: VerifiedToken | undefined;
}

type Ctx = TokenEndpointGrantContext;

/** Reads started together for one request (see `startReads`). */
interface Fetched {
  readonly enabled: Promise<boolean>;
  readonly proofKey: Promise<string | undefined>;
  readonly actor: Promise<VerifiedToken | undefined>;
  readonly subject: Promise<VerifiedToken | undefined>;
}

const epoch = () => Math.floor(Date.now() / 1000);

/**
 * The RFC 8693 token-exchange grant handler: parse → decide → build claims → audit → issue.
 * Every refusal is audited with its rule and answered with a fixed public description.
 */
export function createTokenExchangeHandler(deps: GrantDependencies) {
  const { options, recorder } = deps;
  const { policy } = options;

  /** docs/grant.md: the grant switched off (config, or the shared kill switch) is unsupported_grant_type. */
  async function assertGrantEnabled(enabled: Promise<boolean>): Promise<void> {
    if (!(await enabled)) {
      throw new ExchangeRefusal('impersonation_disabled', 'unsupported_grant_type', 'token exchange is disabled');
    }
  }

  /** RFC 8693 §2.1 parameters; a malformed request is answered after the switch and client checks. */
  function parseOrRefusal(ctx: Ctx): ExchangeRequest | ExchangeRefusal {
    try {
      return parseExchangeRequest(ctx.oidc.params as Record<string, string | string[] | undefined>);
    } catch (err) {
      if (err instanceof ExchangeRefusal) return err;
      throw err;
    }
  }

  /** docs/grant.md: public clients are refused (RFC 8693 §2.1 relies on client authentication). */
  function assertConfidentialClient(ctx: Ctx): void {
    if (ctx.oidc.client.clientAuthMethod === 'none') {
      throw new ExchangeRefusal('client_public', 'invalid_client', 'public clients cannot use token exchange');
    }
  }

  /** RFC 8693 §2.1 actor_token: active, addressed to this client, not itself impersonated. */
  async function verifyActor(ctx: Ctx, fetched: Fetched, proofKey: string | undefined, attempt: Attempt): Promise<VerifiedToken | undefined> {
    const actor = await fetched.actor;
    if (actor === undefined) return undefined;
    attempt.actor = actor.sub;
    assertBoundTokenProven('actor', actor.jkt, proofKey);
    const clientId = ctx.oidc.client.clientId;
    if (!isIssuedTo(actor, clientId, deps.resourceServers.servedBy(clientId))) {
      throw invalidRequest('actor_token_audience', 'actor_token was not issued to this client', `client ${clientId}`);
    }
    assertActorTokenUnchained(actor);
    assertTracked(actor, 'actor');
    return actor;
  }

  /** RFC 8693 §2.1 subject_token: a token of the subject, or (user-id type) the subject's account id. */
  async function verifySubject(ctx: Ctx, request: ExchangeRequest, fetched: Fetched, actor: VerifiedToken | undefined, proofKey: string | undefined, attempt: Attempt): Promise<Subject> {
    const token = await fetched.subject;
    if (token === undefined) {
      attempt.subject = request.subjectToken;
      return { id: request.subjectToken, token: undefined };
    }
    attempt.subject = token.sub;
    assertBoundTokenProven('subject', token.jkt, proofKey);
    if (token.principal !== 'user') {
      throw invalidRequest('subject_token_invalid', 'subject_token must identify a user', 'client credentials token');
    }
    assertSubjectTokenRevocable(token);
    const clientId = ctx.oidc.client.clientId;
    if (!actor && !isIssuedTo(token, clientId, deps.resourceServers.servedBy(clientId))) {
      throw invalidRequest('subject_token_audience', 'subject_token was not issued to this client', `client ${clientId}`);
    }
    assertTracked(token, 'subject');
    const id = await deps.rules.accountIdOf(token);
    if (id === undefined) throw subjectRefused('subject_unknown', `${token.issuer} ${token.sub} maps to no account`);
    attempt.subject = id;
    return { id, token };
  }

  /** Starting an impersonation: a user actor takes on a subject that carries no `act` yet. */
  async function decideImpersonation(ctx: Ctx, request: ExchangeRequest, actor: VerifiedToken, subject: Subject) {
    if (actor.principal !== 'user') {
      throw invalidRequest('actor_not_a_user', 'only a user can start an impersonation', `actor ${actor.sub} is a client`);
    }
    const { actorAccount, subjectAccount } = await deps.rules.admit({
      actor,
      subjectId: subject.id,
      clientId: ctx.oidc.client.clientId,
      reason: request.reason,
      mayAct: subject.token?.mayAct,
    });
    const access = await deps.rules.access({ actor: actorAccount, subject: subjectAccount, approvalId: request.approvalId, mode: request.impersonationMode });
    // draft-mcguinness-oauth-actor-profile §3.4: the actor's kind, read live from the directory.
    const act = wrapActor({ sub: actor.sub, iss: actor.ownIssuer ? undefined : actor.issuer, sub_profile: accountProfile(actorAccount) }, undefined);
    const impersonation: ImpersonationFacts = { id: randomUUID(), reason: request.reason, started_at: epoch(), ...(access.mode === 'read' ? { mode: 'read' as const } : {}) };
    return { actorAccount, subjectAccount, act, impersonation, access, fresh: true, person: actorAccount.id };
  }

  /**
   * An exchange that passes an impersonation on keeps its mode and may narrow it to read-only
   * (`impersonation_mode=read`), never widen it; only starting an impersonation spends an approval.
   */
  function chainedAccess(request: ExchangeRequest, prior: ImpersonationFacts | undefined, rule: ActorProfileRule): { impersonation: ImpersonationFacts | undefined; access: Access } {
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

  /**
   * RFC 8693 §4.1 chained delegation: the subject token already carries `act`; the new acting party
   * (the actor token's subject, or the requesting client) wraps the chain, which is never dropped.
   * docs/policy.md: a chain counts against the rate limit of the person who started it (the innermost actor).
   */
  async function decideChain(ctx: Ctx, request: ExchangeRequest, actor: VerifiedToken | undefined, subject: Subject, prior: ActClaim) {
    await deps.rules.chargeChain(prior);
    const actorAccount = actor?.principal === 'user' ? await deps.rules.actorAccountOf(actor) : undefined;
    const acting: ActingParty = actor
      ? { sub: actor.sub, iss: actor.ownIssuer ? undefined : actor.issuer, token: actor }
      : { sub: ctx.oidc.client.clientId, iss: undefined, token: undefined };
    const subjectAccount = assertSubjectActive(await options.accounts.findAccount(subject.id), subject.id);
    assertMayAct(subject.token?.mayAct, { sub: acting.sub, iss: acting.iss ?? deps.verify.ownIssuer, clientId: ctx.oidc.client.clientId });
    const act = wrapActor({ ...acting, sub_profile: await actingProfile(ctx, actor, actorAccount) }, prior);
    assertChainLength(act, policy);
    const rule = gateByProfile(act, subjectAccount);
    const { impersonation, access } = chainedAccess(request, subject.token?.impersonation, rule);
    // The person who started the chain stays the one the cascade re-reads (docs/introspection-revocation.md).
    const person = subject.token?.grantId === undefined ? undefined : (await deps.registry.get(subject.token.grantId))?.actorAccount;
    return { actorAccount, subjectAccount, act, impersonation, access, fresh: false, person };
  }

  /** Delegation without impersonation: the client (or a service actor) acts with the subject's own token. */
  async function decideDelegation(ctx: Ctx, request: ExchangeRequest, actor: VerifiedToken | undefined, subject: Subject) {
    if (request.approvalId !== undefined) throw invalidRequest('approval_not_applicable', 'approval_id applies only to starting an impersonation');
    if (request.impersonationMode !== undefined) throw invalidRequest('impersonation_mode_invalid', 'impersonation_mode applies only to an impersonation');
    const subjectAccount = assertSubjectActive(await options.accounts.findAccount(subject.id), subject.id);
    if (actor) {
      assertMayAct(subject.token?.mayAct, { sub: actor.sub, iss: actor.issuer, clientId: ctx.oidc.client.clientId });
    }
    const delegation = await delegationOf(subject, actor);
    const act = actor ? wrapActor({ sub: actor.sub, iss: actor.ownIssuer ? undefined : actor.issuer, sub_profile: await actingProfile(ctx, actor, undefined) }, undefined) : undefined;
    const rule = act ? gateByProfile(act, subjectAccount) : undefined;
    // A read-only kind of actor carries only the read-only scopes (policy.actorProfiles).
    const access: Access | undefined = rule?.readOnly
      ? { mode: 'read', approval: undefined, scopeLimits: [{ source: 'read_only', scopes: policy.readOnlyScopes }], notAfter: undefined }
      : undefined;
    // Under a user's delegation every rule of an impersonation applies (docs/beyond-impersonation.md
    // "Delegation to agents"): the token carries its facts, is listed, audited and ends with it.
    const impersonation: ImpersonationFacts | undefined = delegation
      ? { id: delegation.id, reason: delegation.reason, started_at: delegation.grantedAt ?? epoch(), ...(rule?.readOnly ? { mode: 'read' as const } : {}) }
      : undefined;
    return { actorAccount: undefined, subjectAccount, act, impersonation, access, fresh: false, person: undefined, delegationId: delegation?.id, quiet: delegation ? !delegation.first : undefined };
  }

  /**
   * A subject token collected under a user's delegation is good only while the delegation is
   * active and this token is its current one (pausing or ending it ends the token), and only with
   * the agent's own token as actor_token.
   */
  async function delegationOf(subject: Subject, actor: VerifiedToken | undefined) {
    const id = subject.token?.delegationId;
    if (id === undefined) return undefined;
    const delegation = await deps.delegations.standing(id, subject.token?.grantId);
    if (!delegation) throw invalidRequest('delegation_inactive', 'subject_token is invalid, expired or revoked', `delegation ${id} is paused, ended or no longer this token's`);
    if (!actor) throw invalidRequest('actor_token_required', "actor_token is required to act under a delegation: send the agent's own token");
    return delegation;
  }

  /**
   * The kind of the acting party (draft-mcguinness-oauth-actor-profile §3.4), read live: a person's
   * from the account directory, a client's from its registered `client_profile`
   * (draft-mora-oauth-entity-profiles §6); the requesting client when no actor token was sent.
   */
  async function actingProfile(ctx: Ctx, actor: VerifiedToken | undefined, account: { profile?: string | undefined } | undefined): Promise<string> {
    if (actor?.principal === 'user') return accountProfile(account ?? (await options.accounts.findAccount(actor.sub)));
    if (!actor || actor.sub === ctx.oidc.client.clientId) return clientProfile(ctx.oidc.client);
    return clientProfile(await ctx.oidc.provider.Client.find(actor.sub));
  }

  /**
   * `policy.actorProfiles` over every actor of the chain (docs/policy.md "Typed actors"): a kind
   * that may not act for protected accounts is refused like any subject rule; a read-only kind
   * makes the whole chain read-only.
   */
  function gateByProfile(act: ActClaim, subject: DirectoryAccount): ActorProfileRule {
    const rule = profileRule(policy, actorChain(act).map((a) => a.sub_profile));
    const protectedRole = rule.protectedSubjects ? undefined : subject.roles.find((role) => policy.protectedRoles.includes(role));
    if (protectedRole) throw subjectRefused('subject_protected', `${subject.id} holds ${protectedRole}; policy.actorProfiles forbids this kind of actor`);
    return rule;
  }

  /** RFC 9449 §4.3: a DPoP proof, when sent, binds the issued token to the proof's key. */
  function proofKeyOf(ctx: Ctx): Promise<string | undefined> {
    return verifyDpopProof({
      proof: ctx.get('DPoP') || undefined,
      tokenEndpoint: ctx.oidc.urlFor('token'),
      clientId: ctx.oidc.client.clientId,
      clockTolerance: deps.verify.clockTolerance,
      replay: deps.verify.lookup.uniqueProof,
    });
  }

  /**
   * Starts every independent read at once (the switch, the DPoP proof, both tokens); the checks
   * then consume the results in the order the rules are listed, so refusals keep their precedence.
   */
  function startReads(ctx: Ctx, request: ExchangeRequest): Fetched {
    const fetched: Fetched = {
      enabled: deps.registry.isEnabled(),
      proofKey: proofKeyOf(ctx),
      actor: request.actorToken === undefined ? Promise.resolve(undefined) : verifyToken(request.actorToken, request.actorTokenType!, 'actor', deps.verify),
      subject:
        request.subjectTokenType === TokenType.userId
          ? Promise.resolve(undefined)
          : verifyToken(request.subjectToken, request.subjectTokenType, 'subject', deps.verify),
    };
    for (const pending of Object.values(fetched)) (pending as Promise<unknown>).catch(() => undefined);
    return fetched;
  }

  async function decide(ctx: Ctx, request: ExchangeRequest, fetched: Fetched, attempt: Attempt): Promise<IssuePlan> {
    const proofKey = await fetched.proofKey;
    const actor = await verifyActor(ctx, fetched, proofKey, attempt);
    const subject = await verifySubject(ctx, request, fetched, actor, proofKey, attempt);
    const prior = subject.token?.act;

    const decision = prior
      ? await decideChain(ctx, request, actor, subject, prior)
      : actor?.principal === 'user' || request.subjectTokenType === TokenType.userId
        ? await decideImpersonation(ctx, request, actor!, subject)
        : await decideDelegation(ctx, request, actor, subject);
    const impersonating = decision.impersonation !== undefined;
    if (decision.act) attempt.actor = decision.act.sub;
    if (decision.impersonation?.reason) attempt.reason = decision.impersonation.reason;

    const target = resolveTarget(request.targets, request.requestedTokenType, deps.resourceServers, policy);
    if (target) attempt.audience = [target.identifier];

    const clientScope = ctx.oidc.client.scope?.split(' ').filter(Boolean);
    const scopes = grantedScopes({
      requested: request.scopes,
      limits: [
        { source: 'subject_token', scopes: subjectScopeLimit(subject.token) },
        { source: 'client', scopes: clientScope },
        { source: 'hook', scopes: options.hooks.scopesFor ? await options.hooks.scopesFor(decision.subjectAccount, ctx.oidc.client.clientId) : undefined },
        { source: 'resource', scopes: target ? target.definition.scope.split(' ').filter(Boolean) : undefined },
        ...(decision.access?.scopeLimits ?? []),
      ],
      policy,
      impersonating,
    });
    attempt.scope = scopes.join(' ');

    await deps.rules.authorizeByHook({
      actor: decision.actorAccount,
      subject: decision.subjectAccount,
      clientId: ctx.oidc.client.clientId,
      reason: decision.impersonation?.reason,
      scopes,
      audience: target ? [target.identifier] : [],
    });

    const notAfter = decision.access?.notAfter;
    const incoming = subject.token?.expiresAt;
    const lifetime = lifetimeSeconds({
      requested: request.requestedExpiresIn,
      ceiling: policy.maxLifetimeSeconds,
      incomingExpiresAt: notAfter === undefined ? incoming : incoming === undefined ? notAfter : Math.min(incoming, notAfter),
      now: epoch(),
    });
    // Last: a refusal must never cost the subject's approval.
    await deps.rules.spendApproval(decision.access?.approval);

    return {
      subjectId: decision.subjectAccount.id,
      act: decision.act,
      impersonation: decision.impersonation,
      scopes,
      target,
      lifetime,
      requestedTokenType: request.requestedTokenType,
      proofKey,
      sources: [actor?.grantId, subject.token?.grantId].filter((id): id is string => id !== undefined),
      approvalId: decision.access?.approval?.id,
      delegationId: 'delegationId' in decision ? decision.delegationId : undefined,
      quiet: 'quiet' in decision ? decision.quiet : undefined,
      startedBy: decision.fresh ? { name: decision.actorAccount?.name } : undefined,
      actorAccount: decision.person,
    };
  }

  /**
   * Records what bulk revocation and the cascade need, before the token exists (docs/introspection-revocation.md): every
   * exchanged access token — an impersonation, a chain, or a delegation without `act` — under the
   * grants it derives from, so that it ends with each of them.
   */
  async function index(ctx: Ctx, plan: IssuePlan, issued: AboutToIssue): Promise<void> {
    const writes: Array<Promise<void>> = [];
    if (issued.jwtId && issued.grantId) {
      // The token's `aud` (src/exchange/issue.ts), so its revocation reaches the resource servers it is for.
      const audience = plan.target ? [plan.target.definition.audience ?? plan.target.identifier] : undefined;
      writes.push(deps.registry.addJwt(issued.jwtId, issued.grantId, plan.lifetime, audience));
    }
    if (issued.grantId) {
      writes.push(
        deps.registry.add(
          {
            grantId: issued.grantId,
            impersonationId: plan.impersonation?.id ?? issued.grantId,
            actors: actorChain(plan.act).map((a) => a.sub),
            actorProfiles: actorChain(plan.act).map((a) => a.sub_profile ?? ''),
            ...(plan.actorAccount ? { actorAccount: plan.actorAccount } : {}),
            subject: plan.subjectId,
            clientId: ctx.oidc.client.clientId,
            reason: plan.impersonation?.reason,
            startedAt: plan.impersonation?.started_at ?? epoch(),
            expiresAt: issued.expiresAt,
            sources: plan.sources,
            tokenId: issued.tokenId,
            ...(plan.impersonation?.mode ? { mode: plan.impersonation.mode } : {}),
            ...(plan.approvalId ? { approvalId: plan.approvalId } : {}),
            ...(plan.quiet ? { quiet: true } : {}),
          },
          plan.lifetime,
        ),
      );
    }
    await Promise.all(writes);
  }

  /** The notice addressed to the subject when this exchange starts an impersonation of them. */
  function noticeOf(ctx: Ctx, plan: IssuePlan, issued: AboutToIssue): ImpersonationStartedNotice | undefined {
    if (!plan.startedBy || !plan.act || !plan.impersonation) return undefined;
    return startedNotice({
      subject: plan.subjectId,
      actor: plan.act.sub,
      actor_name: plan.startedBy.name,
      ...(plan.act.sub_profile ? { actor_profile: plan.act.sub_profile } : {}),
      reason: plan.impersonation.reason,
      client_id: ctx.oidc.client.clientId,
      started_at: new Date(plan.impersonation.started_at * 1000).toISOString(),
      until: new Date(issued.expiresAt * 1000).toISOString(),
      mode: plan.impersonation.mode ?? 'full',
      ...(plan.approvalId ? { approval_id: plan.approvalId } : {}),
    });
  }

  /** Before the token is stored: the impersonation index, then the audit record (docs/audit.md). */
  async function indexAndRecordGrant(ctx: Ctx, plan: IssuePlan, issued: AboutToIssue, started: { notice?: ImpersonationStartedNotice; grantId?: string }, batch?: WriteBatch): Promise<void> {
    await index(ctx, plan, issued);
    started.notice = noticeOf(ctx, plan, issued);
    started.grantId = issued.grantId;
    await recorder.record(
      'exchange.granted',
      {
        outcome: 'granted',
        client_id: ctx.oidc.client.clientId,
        actor: plan.act?.sub,
        subject: plan.subjectId,
        reason: plan.impersonation?.reason,
        scope: plan.scopes.join(' '),
        audience: plan.target ? [plan.target.identifier] : undefined,
        token_id: issued.tokenId,
        expires_at: new Date(issued.expiresAt * 1000).toISOString(),
        mode: plan.impersonation?.mode,
        approval_id: plan.approvalId,
        delegation_id: plan.delegationId,
      },
      deps.requestFacts(ctx),
      { notice: started.notice, batch },
    );
  }

  /**
   * A request refused for its reason alone still names its actor and subject in the audit record
   * (docs/audit.md), when its tokens verify: who tried is what an auditor looks for. Nothing more is
   * decided; a token that does not verify leaves its party unnamed.
   */
  async function nameParties(ctx: Ctx, attempt: Attempt): Promise<void> {
    let request: ExchangeRequest;
    try {
      request = parseExchangeRequest({ ...(ctx.oidc.params as Record<string, string | string[] | undefined>), reason: undefined });
    } catch {
      return;
    }
    const fetched = startReads(ctx, request);
    const [actor, subject] = await Promise.all([fetched.actor.catch(() => undefined), fetched.subject.catch(() => undefined)]);
    const subjectId = request.subjectTokenType === TokenType.userId ? request.subjectToken : subject?.sub;
    if (actor) attempt.actor = actor.sub;
    if (subjectId !== undefined) attempt.subject = subjectId;
  }

  async function recordDenial(ctx: Ctx, refusal: ExchangeRefusal, attempt: Attempt): Promise<void> {
    try {
      await recorder.record(
        'exchange.denied',
        {
          outcome: refusal.status >= 500 ? 'error' : 'denied',
          rule: refusal.rule,
          client_id: ctx.oidc.client.clientId,
          actor: attempt.actor,
          subject: attempt.subject,
          reason: attempt.reason ?? auditableReason(ctx.oidc.params as Record<string, string>),
          scope: attempt.scope,
          audience: attempt.audience,
        },
        deps.requestFacts(ctx),
      );
    } catch {
      // The refusal stands and nothing was issued; the sink reports its own failure.
    }
  }

  return async function tokenExchangeGrant(ctx: Ctx): Promise<void> {
    const attempt: Attempt = {};
    const started = process.hrtime.bigint();
    let outcome: 'granted' | 'denied' | 'error' = 'granted';
    deps.markAudited(ctx);
    try {
      const parsed = parseOrRefusal(ctx);
      const fetched = parsed instanceof ExchangeRefusal ? undefined : startReads(ctx, parsed);
      await assertGrantEnabled(fetched?.enabled ?? deps.registry.isEnabled());
      assertConfidentialClient(ctx);
      if (parsed instanceof ExchangeRefusal) {
        if (parsed.rule === 'reason_invalid') await nameParties(ctx, attempt);
        throw parsed;
      }
      const request = parsed;
      attempt.reason = request.reason;
      const plan = await decide(ctx, request, fetched!, attempt);
      const started: { notice?: ImpersonationStartedNotice; grantId?: string } = {};
      ctx.body = await issueTokens(ctx, plan, deps.issue, (issued, batch) => indexAndRecordGrant(ctx, plan, issued, started, batch));
      if (started.notice) deps.notifier.notify(started.notice);
      if (plan.approvalId && started.grantId) await deps.confirmStarted(plan.approvalId, started.grantId, deps.requestFacts(ctx));
    } catch (err) {
      const refusal =
        err instanceof ExchangeRefusal
          ? err
          : new ExchangeRefusal(err instanceof AuditBeforeIssueError ? 'audit_write_failed' : 'server_error', 'server_error', 'server error', {
              status: 500,
              detail: err instanceof Error ? err.name : 'unknown',
            });
      outcome = refusal.status >= 500 ? 'error' : 'denied';
      if (outcome === 'error') {
        const { name, message } = err instanceof Error ? err : new Error(String(err));
        deps.logger.error({ err: { name, message }, rule: refusal.rule, request_id: deps.requestFacts(ctx).requestId }, 'token exchange failed');
      }
      if (!(err instanceof AuditBeforeIssueError)) await recordDenial(ctx, refusal, attempt);
      for (const [name, value] of Object.entries(refusal.headers)) ctx.set(name, value);
      throw toProviderError(refusal);
    } finally {
      deps.observeDuration(Number(process.hrtime.bigint() - started) / 1e9, outcome);
    }
  };
}
