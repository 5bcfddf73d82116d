import { randomBytes, randomUUID } from 'node:crypto';
import { accountProfile } from '../claims/profiles.js';
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import type { AuditRecorder, RequestFacts } from '../audit/recorder.js';
import type { DirectoryAccount } from '../accounts.js';
import type { ResolvedOptions } from '../config.js';
import { LOOPBACK_INITIATE_LOGIN_URI, TICKET_PREFIX, type ImpersonationMode } from '../constants.js';
import { ExchangeRefusal, invalidRequest } from '../errors.js';
import type { ActorIdentity, ImpersonationRules } from '../exchange/rules.js';
import { assertSubjectMayBeImpersonated } from '../exchange/checks.js';
import { validateReason } from '../exchange/reason.js';
import { startedNotice } from '../notify/notice.js';
import type { SubjectNotifier } from '../notify/notifier.js';
import type { ImpersonationRecord, ImpersonationStore } from '../store/impersonations.js';
import type { Redemption, TicketRecord, TicketStore } from '../store/tickets.js';
import { sameOriginTarget } from '../web/redirects.js';
import type { AllowedScopes } from './scopes.js';
import { digestOf, presentedDigest } from './ticket-hints.js';

/** docs/browser-impersonation.md §1 answer to a minting request. */
export interface MintedTicket {
  readonly ticket: string;
  readonly expires_at: string;
  readonly login_url: string;
}

/** What the admin API (or a host's own console) knows of the person asking for a ticket. */
export interface TicketRequest {
  readonly actor: ActorIdentity;
  /** The grant of the credential the actor presented: revoking it ends the impersonation (docs/introspection-revocation.md cascade). */
  readonly actorGrantId?: string | undefined;
  readonly subject: string;
  readonly clientId: string;
  readonly reason: string | undefined;
  /** OIDC Core §4 `target_link_uri`: where the client should land; same origin as its login URI. */
  readonly targetLinkUri?: string | undefined;
  /** `read` for a read-only impersonation (policy may force it); default full. */
  readonly mode?: ImpersonationMode | undefined;
  /** The subject's approval to start under (`policy.requireSubjectApproval`); spent by the minting. */
  readonly approvalId?: string | undefined;
}

/** The authorization request a ticket is redeemed in (from oidc-provider's interaction details). */
export interface RedemptionRequest {
  readonly ticket: string;
  readonly clientId: string;
  readonly scope: string | undefined;
  readonly resources: readonly string[];
  readonly claims: readonly string[];
  /**
   * Who the browser is signed in as at the provider, if anyone: the account, and for an impersonated
   * session the people who started its impersonations. A browser signed in as anyone but the ticket's
   * actor is refused (docs/browser-impersonation.md, "Whose browser").
   */
  readonly signedIn?: { readonly accountId: string; readonly actors: readonly string[] } | undefined;
}

/** A redeemed ticket: the subject to sign in, and the grant the session's tokens are issued under. */
export interface Redeemed {
  readonly subject: string;
  readonly grantId: string;
  readonly startedAt: number;
}

interface Dependencies {
  readonly options: ResolvedOptions;
  readonly rules: ImpersonationRules;
  readonly provider: Provider;
  readonly tickets: TicketStore;
  readonly impersonations: ImpersonationStore;
  readonly recorder: AuditRecorder;
  readonly isEnabled: () => Promise<boolean>;
  readonly mayStillImpersonate: (actorId: string) => Promise<boolean>;
  readonly allowedScopes: AllowedScopes;
  /** The provider's authorization endpoint, for clients without an initiate-login URI. */
  readonly authorizationEndpoint: string;
  readonly notifier: SubjectNotifier;
  /** Whether a client is one of the provider's own pages (the subject's page, the support console): never opened by a ticket. */
  readonly isFirstParty: (clientId: string) => boolean;
  /** Reads an approval's state at redemption, and ends an impersonation whose approval was revoked while it started. */
  readonly approvals: {
    isRevoked(approvalId: string): Promise<boolean>;
    confirmStarted(approvalId: string | undefined, grantId: string, facts: RequestFacts): Promise<void>;
  };
}

const epoch = () => Math.floor(Date.now() / 1000);

/** `scopes` narrowed by every limit. */
function within(scopes: readonly string[], limits: ReadonlyArray<readonly string[]>): string[] {
  return scopes.filter((s) => limits.every((limit) => limit.includes(s)));
}

/** The audit trail names a ticket by its digest, as it names opaque tokens (docs/audit.md: no token values). */
function auditId(digest: string): string {
  return `sha256:${digest}`;
}

function ticketDenied(rule: 'ticket_unknown' | 'ticket_expired' | 'ticket_used' | 'ticket_other_client' | 'ticket_client_first_party', detail?: string): ExchangeRefusal {
  return new ExchangeRefusal(rule, 'access_denied', 'the impersonation ticket is invalid, expired or already used', { detail });
}

async function clientFor(deps: Dependencies, clientId: string): Promise<Client> {
  // An impersonated session of the subject's own page could end or hide the impersonation; one of
  // the console could administer impersonation as the subject (docs/browser-impersonation.md).
  if (deps.isFirstParty(clientId)) {
    throw invalidRequest('ticket_client_first_party', "tickets cannot open the provider's own pages (the subject's page, the support console)", clientId);
  }
  const client = await deps.provider.Client.find(clientId);
  if (!client) throw invalidRequest('ticket_client_unknown', 'unknown client_id', clientId);
  if (!client.responseTypeAllowed('code') || !client.redirectUris?.length) {
    throw invalidRequest('ticket_client_unsupported', 'this client cannot sign a browser in (no authorization code flow)', clientId);
  }
  return client;
}

/** OIDC Core §4 third-party initiated login URL, or a plain authorization request without one. */
function loginUrl(deps: Pick<Dependencies, 'provider' | 'authorizationEndpoint'>, client: Client, ticket: string, target: string | undefined): string {
  const metadata = client.metadata() as Record<string, unknown>;
  const initiate = metadata.initiate_login_uri ?? metadata[LOOPBACK_INITIATE_LOGIN_URI];
  if (typeof initiate === 'string') {
    const url = new URL(initiate);
    const requested = target ?? (typeof metadata.client_uri === 'string' ? metadata.client_uri : `${url.origin}/`);
    // An absolute path of the client's own origin: never `//host`, a backslash or an encoded variant.
    const targetLink = sameOriginTarget(requested, url.origin);
    if (targetLink === undefined) {
      throw invalidRequest('target_link_uri_invalid', 'target_link_uri must be on the client\'s own origin', String(requested).slice(0, 200));
    }
    url.searchParams.set('iss', deps.provider.issuer);
    url.searchParams.set('login_hint', ticket);
    url.searchParams.set('target_link_uri', targetLink);
    return url.href;
  }
  const url = new URL(deps.authorizationEndpoint);
  url.search = new URLSearchParams({ client_id: client.clientId, response_type: 'code', scope: 'openid', redirect_uri: client.redirectUris![0]!, login_hint: ticket }).toString();
  return url.href;
}

async function assertEnabled(deps: Pick<Dependencies, 'isEnabled'>): Promise<void> {
  if (!(await deps.isEnabled())) throw new ExchangeRefusal('impersonation_disabled', 'access_denied', 'impersonation is disabled', { status: 403 });
}

async function recordDenial(
  recorder: AuditRecorder,
  event: 'ticket.minted' | 'ticket.redeemed',
  refusal: ExchangeRefusal,
  fields: Record<string, string | undefined>,
  facts: RequestFacts,
): Promise<void> {
  try {
    await recorder.record(event, { outcome: refusal.status >= 500 ? 'error' : 'denied', rule: refusal.rule, ...fields }, facts);
  } catch {
    // The refusal stands; the sink reports its own failure.
  }
}

/**
 * docs/browser-impersonation.md §1: mints a ticket after every rule of §1–2 (the switch, the actor's live account and role,
 * the subject rules, the reason, the rate limit, the hook). Every attempt is audited.
 */
async function mint(deps: Dependencies, request: TicketRequest, facts: RequestFacts): Promise<MintedTicket> {
  const { options, recorder } = deps;
  let reason: string | undefined;
  try {
    await assertEnabled(deps);
    reason = validateReason(request.reason);
    const client = await clientFor(deps, request.clientId);
    const { actorAccount, subjectAccount } = await deps.rules.admit({ actor: request.actor, subjectId: request.subject, clientId: client.clientId, reason });
    const access = await deps.rules.access({ actor: actorAccount, subject: subjectAccount, approvalId: request.approvalId, mode: request.mode });
    const scopes = within(await deps.allowedScopes.forClient(client, subjectAccount), access.scopeLimits.map((limit) => limit.scopes ?? []));
    await deps.rules.authorizeByHook({ actor: actorAccount, subject: subjectAccount, clientId: client.clientId, reason, scopes, audience: [] });
    await deps.rules.spendApproval(access.approval);
    const ticket = `${TICKET_PREFIX}${randomBytes(32).toString('base64url')}`;
    const digest = digestOf(ticket);
    const now = epoch();
    const record: TicketRecord = {
      impersonationId: randomUUID(),
      actor: actorAccount.id,
      subject: subjectAccount.id,
      clientId: client.clientId,
      reason,
      sources: request.actorGrantId ? [request.actorGrantId] : [],
      mintedAt: now,
      expiresAt: now + options.tickets.lifetimeSeconds,
      ...(access.mode === 'read' ? { mode: 'read' as const } : {}),
      ...(access.approval ? { approvalId: access.approval.id, approvedScopes: access.approval.scopes, notAfter: access.notAfter } : {}),
    };
    const url = loginUrl(deps, client, ticket, request.targetLinkUri);
    const expiresAt = new Date(record.expiresAt * 1000).toISOString();
    await recorder.record(
      'ticket.minted',
      {
        outcome: 'granted',
        actor: record.actor,
        subject: record.subject,
        client_id: record.clientId,
        reason,
        token_id: auditId(digest),
        expires_at: expiresAt,
        mode: record.mode,
        approval_id: record.approvalId,
      },
      facts,
    );
    await deps.tickets.put(digest, record, now);
    return { ticket, expires_at: expiresAt, login_url: url };
  } catch (err) {
    if (err instanceof ExchangeRefusal) {
      await recordDenial(recorder, 'ticket.minted', err, { actor: request.actor.sub, subject: request.subject, client_id: request.clientId, reason }, facts);
    }
    throw err;
  }
}

/**
 * The ticket redeemed, or the refusal: unknown, used, expired, minted for another client or for a
 * first-party one, or presented in a browser signed in as someone other than its actor.
 */
function redeemable(deps: Pick<Dependencies, 'isFirstParty'>, redemption: Redemption, request: RedemptionRequest, now: number): TicketRecord {
  if (redemption.outcome === 'unknown') throw ticketDenied('ticket_unknown');
  if (redemption.outcome === 'used') throw ticketDenied('ticket_used');
  if (redemption.outcome === 'expired') throw ticketDenied('ticket_expired', `expired ${now - redemption.record.expiresAt}s ago`);
  if (redemption.outcome === 'other_client') throw ticketDenied('ticket_other_client', `minted for ${redemption.record.clientId}`);
  const { record } = redemption;
  if (deps.isFirstParty(record.clientId)) throw ticketDenied('ticket_client_first_party', `${record.clientId} is a first-party client`);
  // A ticket never replaces another person's session: it is spent, and that browser keeps its account.
  const browser = request.signedIn;
  if (browser && !(browser.actors.length ? browser.actors.every((a) => a === record.actor) : browser.accountId === record.actor)) {
    throw new ExchangeRefusal('ticket_browser_signed_in', 'access_denied', 'this browser is signed in to another account: the impersonation was not started', {
      detail: browser.actors.length ? 'an impersonation by another actor' : 'another account',
    });
  }
  return record;
}

/**
 * docs/browser-impersonation.md §3: the rules re-read at redemption — the switch, both accounts as they are now, and the
 * subject's approval (revoked since the minting: refused). Answers the actor's account.
 */
async function assertStillAllowed(deps: Dependencies, record: TicketRecord): Promise<DirectoryAccount> {
  const { options } = deps;
  await assertEnabled(deps);
  if (!(await deps.mayStillImpersonate(record.actor))) {
    throw invalidRequest('actor_not_impersonator', 'the actor is not allowed to impersonate', `${record.actor} may no longer impersonate`);
  }
  const [actor, subject] = await Promise.all([options.accounts.findAccount(record.actor), options.accounts.findAccount(record.subject)]);
  assertSubjectMayBeImpersonated(subject, record.subject, actor!, options.policy);
  if (record.approvalId && (await deps.approvals.isRevoked(record.approvalId))) {
    throw invalidRequest('approval_revoked', 'the subject revoked this approval', record.approvalId);
  }
  return actor!;
}

/**
 * What the session may hold beyond the usual limits: the read-only set, and the scopes the subject
 * approved — plus `openid`, without which no browser can be signed in (it discloses only `sub`).
 */
function ticketLimits(policy: ResolvedOptions['policy'], record: TicketRecord): Array<readonly string[]> {
  return [
    ...(record.mode === 'read' && policy.readOnlyScopes ? [policy.readOnlyScopes] : []),
    ...(record.approvedScopes ? [[...record.approvedScopes, 'openid']] : []),
  ];
}

/** The grant the impersonated session's tokens are issued under: only what policy allows, the rest rejected (no consent prompt). */
async function impersonationGrant(deps: Dependencies, record: TicketRecord, request: RedemptionRequest, lifetime: number) {
  const { provider, options } = deps;
  const client = (await provider.Client.find(record.clientId))!;
  const subject = (await options.accounts.findAccount(record.subject))!;
  const grant = new provider.Grant({ accountId: record.subject, clientId: record.clientId });
  const requested = [...new Set((request.scope ?? '').split(' ').filter(Boolean))];
  const allowed = new Set(within(await deps.allowedScopes.forClient(client, subject), ticketLimits(options.policy, record)));
  grant.addOIDCScope(requested.filter((s) => allowed.has(s)));
  grant.rejectOIDCScope(requested.filter((s) => !allowed.has(s)));
  if (request.claims.length) grant.addOIDCClaims([...request.claims]);
  for (const resource of request.resources) {
    const forResource = new Set(deps.allowedScopes.forResource(resource, [...allowed]));
    grant.addResourceScope(resource, requested.filter((s) => forResource.has(s)));
    grant.rejectResourceScope(resource, requested.filter((s) => !forResource.has(s)));
  }
  (grant as unknown as { expiresIn: number }).expiresIn = lifetime;
  const model = grant as unknown as { jti: string; generateTokenId(): string };
  model.jti = model.generateTokenId();
  return { grant, grantId: model.jti, scope: grant.getOIDCScope() };
}

/** The browser impersonation a redeemed ticket starts, under the grant prepared for it. */
function browserImpersonation(record: TicketRecord, actor: DirectoryAccount, grantId: string, started: { now: number; lifetime: number; tokenId: string }): ImpersonationRecord {
  return {
    grantId,
    impersonationId: record.impersonationId,
    actors: [record.actor],
    actorProfiles: [accountProfile(actor)],
    actorAccount: record.actor,
    subject: record.subject,
    clientId: record.clientId,
    reason: record.reason,
    startedAt: started.now,
    expiresAt: started.now + started.lifetime,
    sources: record.sources,
    tokenId: started.tokenId,
    kind: 'browser',
    ...(record.mode ? { mode: record.mode } : {}),
    ...(record.approvalId ? { approvalId: record.approvalId } : {}),
  };
}

/**
 * docs/browser-impersonation.md §3: consumes the ticket exactly once and, when it counts and the rules still hold,
 * stores the impersonation's grant and index entry (after its audit record). Refusals are
 * audited with their rule and thrown as `access_denied`.
 */
async function redeem(deps: Dependencies, request: RedemptionRequest, facts: RequestFacts): Promise<Redeemed> {
  const { options, recorder } = deps;
  const digest = presentedDigest(request.ticket);
  const now = epoch();
  const redemption = await deps.tickets.redeem(digest, request.clientId, now);
  const known = redemption.outcome === 'unknown' ? undefined : redemption.record;
  const fields = { actor: known?.actor, subject: known?.subject, client_id: request.clientId, reason: known?.reason, token_id: auditId(digest) };
  try {
    const record = redeemable(deps, redemption, request, now);
    const actor = await assertStillAllowed(deps, record);
    const lifetime = Math.min(options.policy.maxLifetimeSeconds, (record.notAfter ?? Infinity) - now);
    if (lifetime < 1) throw invalidRequest('approval_expired', "this approval's window has ended", record.approvalId);
    const { grant, grantId, scope } = await impersonationGrant(deps, record, request, lifetime);
    const impersonation = browserImpersonation(record, actor, grantId, { now, lifetime, tokenId: auditId(digest) });
    const until = new Date(impersonation.expiresAt * 1000).toISOString();
    const notice = startedNotice({
      subject: record.subject,
      actor: record.actor,
      actor_name: actor.name,
      actor_profile: accountProfile(actor),
      reason: record.reason,
      client_id: record.clientId,
      started_at: new Date(now * 1000).toISOString(),
      until,
      mode: record.mode ?? 'full',
      ...(record.approvalId ? { approval_id: record.approvalId } : {}),
    });
    await recorder.record(
      'ticket.redeemed',
      { outcome: 'granted', ...fields, scope: scope || undefined, expires_at: until, mode: record.mode, approval_id: record.approvalId },
      facts,
      { notice },
    );
    await Promise.all([grant.save(), deps.impersonations.add(impersonation, lifetime)]);
    deps.notifier.notify(notice);
    await deps.approvals.confirmStarted(record.approvalId, grantId, facts);
    return { subject: record.subject, grantId, startedAt: now };
  } catch (err) {
    if (err instanceof ExchangeRefusal) await recordDenial(recorder, 'ticket.redeemed', err, fields, facts);
    throw err;
  }
}

/**
 * docs/browser-impersonation.md §1–3: one-time tickets that open a client in a browser as the subject. Minting runs every
 * rule of an impersonation through the same rules as the grant; redemption consumes the ticket
 * atomically and prepares the impersonated session's grant.
 */
export function createTicketService(deps: Dependencies) {
  return {
    mint: (request: TicketRequest, facts: RequestFacts): Promise<MintedTicket> => mint(deps, request, facts),
    redeem: (request: RedemptionRequest, facts: RequestFacts): Promise<Redeemed> => redeem(deps, request, facts),
  };
}

export type TicketService = ReturnType<typeof createTicketService>;
