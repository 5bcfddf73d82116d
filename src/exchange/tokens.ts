import type { TokenEndpointGrantContext } from 'oidc-provider';
import { TokenType } from '../constants.js';
import { invalidRequest, subjectRefused } from '../errors.js';
import type { ActorIdentity } from './admission.js';
import { knowing, type AttemptFacts, type ParsedRequest, type Reads, type Subject, type VerifiedTokens } from './attempt.js';
import { assertActorTokenUnchained, assertSubjectTokenRevocable, assertTracked } from './checks.js';
import { assertBoundTokenProven, verifyDpopProof } from './dpop.js';
import type { ExchangeRequest } from './request.js';
import type { ResourceServerRegistry } from './targets.js';
import { isIssuedTo, verifyToken, type VerifiedToken, type VerifyContext } from './verify.js';

/*
 * The grant's verify step (RFC 8693 §2.1: "the authorization server MUST perform the appropriate
 * validation procedures for the indicated token type"): the DPoP proof, the actor token, then the
 * subject token, each refused with its own rule (RFC 8693 §2.2.2 invalid_request).
 */

type Ctx = TokenEndpointGrantContext;

/** What the verify step reads: the switch, the verifiers' context, the resource servers, and the rule module's account mapping. */
export interface VerifyStepDeps {
  readonly registry: { isEnabled(): Promise<boolean> };
  readonly verify: VerifyContext;
  readonly resourceServers: Pick<ResourceServerRegistry, 'servedBy'>;
  readonly rules: { accountIdOf(identity: ActorIdentity): Promise<string | undefined> };
}

/** RFC 9449 §4.3: a DPoP proof, when sent, binds the issued token to the proof's key. */
function proofKeyOf(ctx: Ctx, deps: VerifyStepDeps): Promise<string | undefined> {
  return verifyDpopProof({
    proof: ctx.get('DPoP') || undefined,
    tokenEndpoint: ctx.oidc.urlFor('token'),
    clientId: ctx.oidc.client.clientId,
    clockTolerance: deps.verify.clockTolerance,
    replay: deps.verify.lookup.uniqueProof,
  });
}

/**
 * Starts every independent read at once (the switch, the DPoP proof, both tokens); the steps then
 * consume the results in the order the rules are listed, so refusals keep their precedence.
 */
export function startReads(ctx: Ctx, request: ExchangeRequest, deps: VerifyStepDeps): Reads {
  const reads: Reads = {
    enabled: deps.registry.isEnabled(),
    proofKey: proofKeyOf(ctx, deps),
    actor: request.actorToken === undefined ? Promise.resolve(undefined) : verifyToken(request.actorToken, request.actorTokenType!, 'actor', deps.verify),
    subject:
      request.subjectTokenType === TokenType.userId
        ? Promise.resolve(undefined)
        : verifyToken(request.subjectToken, request.subjectTokenType, 'subject', deps.verify),
  };
  for (const pending of Object.values(reads)) (pending as Promise<unknown>).catch(() => undefined);
  return reads;
}

/** RFC 8693 §2.1 actor_token: proven when DPoP-bound, addressed to this client, not itself impersonated, recorded. */
function checkActor(ctx: Ctx, actor: VerifiedToken, proofKey: string | undefined, deps: VerifyStepDeps): void {
  assertBoundTokenProven('actor', actor.jkt, proofKey);
  const clientId = ctx.oidc.client.clientId;
  if (!isIssuedTo(actor, clientId, deps.resourceServers.servedBy(clientId))) {
    throw invalidRequest('actor_token_audience', 'actor_token was not issued to this client', `client ${clientId}`);
  }
  assertActorTokenUnchained(actor);
  assertTracked(actor, 'actor');
}

/**
 * RFC 8693 §2.1 subject_token: a token of a user, revocable when it acts for someone, addressed to
 * this client unless an actor token speaks for it, recorded; mapped to its local account.
 */
async function checkSubject(ctx: Ctx, token: VerifiedToken, actor: VerifiedToken | undefined, proofKey: string | undefined, deps: VerifyStepDeps): Promise<string> {
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
  return id;
}

/** RFC 8693 §2.1 subject_token: a token of the subject, or (user-id type) the subject's account id. */
async function verifySubject(ctx: Ctx, parsed: ParsedRequest, actor: VerifiedToken | undefined, proofKey: string | undefined, facts: AttemptFacts, deps: VerifyStepDeps): Promise<Subject> {
  const token = await parsed.reads.subject;
  if (token === undefined) return { id: parsed.request.subjectToken, token: undefined };
  const id = await knowing(Object.assign({}, facts, { subject: token.sub }), () => checkSubject(ctx, token, actor, proofKey, deps));
  return { id, token };
}

/**
 * The verify step: the DPoP proof, then the actor token (when sent), then the subject token. A
 * refusal names the actor once its token verified, and the subject once its token did.
 */
export async function verifyTokens(ctx: Ctx, parsed: ParsedRequest, deps: VerifyStepDeps): Promise<VerifiedTokens> {
  const proofKey = await parsed.reads.proofKey;
  const actor = await parsed.reads.actor;
  const facts: AttemptFacts = actor ? Object.assign({}, parsed.facts, { actor: actor.sub }) : parsed.facts;
  if (actor) await knowing(facts, () => checkActor(ctx, actor, proofKey, deps));
  const subject = await knowing(facts, () => verifySubject(ctx, parsed, actor, proofKey, facts, deps));
  return { request: parsed.request, proofKey, actor, subject, facts: Object.assign({}, facts, { subject: subject.id }) };
}
