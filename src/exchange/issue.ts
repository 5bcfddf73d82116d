import { randomUUID } from 'node:crypto';
import type { FindAccount, TokenEndpointGrantContext } from 'oidc-provider';
import { TOKEN_EXCHANGE_GRANT, TokenType } from '../constants.js';
import { withWriteBatch, type WriteBatch } from '../store/write-batch.js';
import type { ActClaim } from '../claims/act.js';
import type { RequestedTokenType } from './request.js';
import type { Target } from './targets.js';
import type { ImpersonationFacts } from './verify.js';
import { auditableTokenId, exchangedJwtId } from './token-ids.js';

export { auditableTokenId } from './token-ids.js';

/** Everything decided about the token to issue. */
export interface IssuePlan {
  readonly subjectId: string;
  readonly act: ActClaim | undefined;
  readonly impersonation: ImpersonationFacts | undefined;
  readonly scopes: readonly string[];
  readonly target: Target | undefined;
  readonly lifetime: number;
  readonly requestedTokenType: RequestedTokenType;
  /** RFC 9449: the DPoP key thumbprint the access token is bound to, if the request carried a proof. */
  readonly proofKey: string | undefined;
  /** Grants of the presented tokens: revoking one of them ends what this exchange issues. */
  readonly sources: readonly string[];
  /** The subject's approval this impersonation starts under (already spent). */
  readonly approvalId?: string | undefined;
  /** The user's delegation to an agent this token acts under. */
  readonly delegationId?: string | undefined;
  /** Not listed again in the subject's history (a later exchange of a delegation already listed). */
  readonly quiet?: boolean | undefined;
  /** Set when this exchange starts an impersonation: the actor as the subject will be told. */
  readonly startedBy?: { readonly name: string | undefined } | undefined;
  /** The local account of the person who started the impersonation (absent when a service acts). */
  readonly actorAccount?: string | undefined;
}

/** What is known of a token before it is saved: enough for the audit record and the index. */
export interface AboutToIssue {
  /** The id the audit trail names (see {@link auditableTokenId}). */
  readonly tokenId: string;
  readonly expiresAt: number;
  /** The grant backing the issued token. */
  readonly grantId: string | undefined;
  /** A JWT's `jti` (access or ID token), recorded so that its revocation shows. */
  readonly jwtId: string | undefined;
}

/** RFC 8693 §2.2.1 success response. Never a refresh token. */
export interface ExchangeResponse {
  access_token: string;
  issued_token_type: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/**
 * Writes the audit record and the index of a token about to be issued; `batch` collects the store
 * writes. What it answers comes back with the response.
 */
export type BeforeSave<T> = (about: AboutToIssue, batch?: WriteBatch) => Promise<T>;

/** The response, with what `beforeSave` answered. */
export interface IssueResult<T> {
  readonly response: ExchangeResponse;
  readonly recorded: T;
}

export interface IssueDependencies {
  /** A batch collecting the store's writes of one exchange. */
  readonly newBatch: () => WriteBatch;
  /** Attaches the claims a token must carry; read back by the provider's `extraTokenClaims`. */
  readonly attachClaims: (token: object, claims: Record<string, unknown>) => void;
  /** The host provider's `findAccount`, for the claims of an ID token. */
  readonly findAccount: FindAccount;
}

/** Thrown when the audit record or the index could not be written before issuing: no token was saved. */
export class AuditBeforeIssueError extends Error {
  constructor(cause: unknown) {
    super('audit record or index could not be written', { cause });
    this.name = 'AuditBeforeIssueError';
  }
}

type Ctx = TokenEndpointGrantContext;

const epoch = () => Math.floor(Date.now() / 1000);

/** Claims an issued token carries: `act` (RFC 8693 §4.1) and this extension's impersonation facts. */
function exchangeClaims(plan: IssuePlan): Record<string, unknown> {
  return {
    ...(plan.act ? { act: plan.act } : {}),
    ...(plan.impersonation ? { impersonation: plan.impersonation } : {}),
  };
}

/** Writes the audit record (and the index), then commits the batch the record authorizes. */
async function audit<T>(beforeSave: BeforeSave<T>, about: AboutToIssue, batch?: WriteBatch): Promise<T> {
  try {
    const recorded = await beforeSave(about, batch);
    await batch?.commit();
    return recorded;
  } catch (err) {
    throw new AuditBeforeIssueError(err);
  }
}

/**
 * Waits until the models' saves are collected in the batch, then writes the audit record, which
 * commits them. If either fails, the batch is abandoned: nothing it collected is stored.
 */
async function saveAudited<T>(batch: WriteBatch, saves: ReadonlyArray<Promise<unknown>>, beforeSave: BeforeSave<T>, about: AboutToIssue): Promise<T> {
  try {
    await batch.untilDeferred(saves.length, saves);
    return await audit(beforeSave, about, batch);
  } catch (err) {
    batch.abandon(err);
    await Promise.allSettled(saves);
    throw err;
  }
}

/**
 * A grant of its own backs every exchanged access token, expiring with it, so that revoking the
 * grant (oidc-provider's `revokeByGrantId`) revokes the token, and introspection finds it valid.
 * Its id is chosen up front so that it can be stored alongside the audit record.
 */
function newGrant(ctx: Ctx, plan: IssuePlan) {
  const { provider, client } = ctx.oidc;
  const grant = new provider.Grant({ accountId: plan.subjectId, clientId: client.clientId });
  if (plan.target) grant.addResourceScope(plan.target.identifier, plan.scopes.join(' '));
  else grant.addOIDCScope(plan.scopes.join(' '));
  const model = grant as unknown as { jti: string; expiresIn: number; generateTokenId(): string };
  model.expiresIn = plan.lifetime;
  model.jti = model.generateTokenId();
  return { grant, grantId: model.jti };
}

async function issueAccessToken<T>(ctx: Ctx, plan: IssuePlan, deps: IssueDependencies, beforeSave: BeforeSave<T>): Promise<IssueResult<T>> {
  const { provider, client } = ctx.oidc;
  const asJwt = plan.requestedTokenType === TokenType.jwt;
  const resourceServer = plan.target
    ? new provider.ResourceServer(plan.target.identifier, {
        scope: plan.target.definition.scope,
        audience: plan.target.definition.audience ?? plan.target.identifier,
        accessTokenFormat: asJwt ? 'jwt' : plan.target.definition.accessTokenFormat,
        accessTokenTTL: plan.lifetime,
      })
    : undefined;

  const { grant, grantId } = newGrant(ctx, plan);
  const token = new provider.AccessToken({
    accountId: plan.subjectId,
    client,
    grantId,
    gty: TOKEN_EXCHANGE_GRANT,
    scope: plan.scopes.join(' '),
    expiresIn: plan.lifetime,
    ...(resourceServer ? { resourceServer } : {}),
  });
  const model = token as unknown as { jti: string; format: string; generateTokenId(): string };
  const generated = model.generateTokenId(); // also settles model.format
  model.jti = model.format === 'jwt' ? exchangedJwtId(generated) : generated;
  deps.attachClaims(token, exchangeClaims(plan));
  if (plan.proofKey) token.setThumbprint('jkt', plan.proofKey);
  const about: AboutToIssue = {
    tokenId: auditableTokenId(model.jti, model.format),
    expiresAt: epoch() + plan.lifetime,
    grantId,
    jwtId: model.format === 'jwt' ? model.jti : undefined,
  };

  // One write set: the grant, the opaque token, the JWT record and the index are collected, then
  // stored with the audit record (one script on standalone Redis). Model saves settle on commit;
  // a JWT, which nothing stores, is signed once its record is durable.
  const batch = deps.newBatch();
  const { value, recorded } = await withWriteBatch(batch, async () => {
    const saves = [grant.save(), ...(model.format === 'jwt' ? [] : [token.save()])];
    const recorded = await saveAudited(batch, saves, beforeSave, about);
    const [, saved] = await Promise.all(saves);
    ctx.oidc.entity('AccessToken', token);
    return { value: saved ?? (await token.save()), recorded };
  });
  const response: ExchangeResponse = {
    access_token: value,
    issued_token_type: asJwt ? TokenType.jwt : TokenType.accessToken,
    token_type: token.tokenType,
    expires_in: plan.lifetime,
    scope: plan.scopes.join(' '),
  };
  return { response, recorded };
}

/** OIDC Core §2 ID token for the subject, with the same `act`; its audience is the client. */
async function issueIdToken<T>(ctx: Ctx, plan: IssuePlan, deps: IssueDependencies, beforeSave: BeforeSave<T>): Promise<IssueResult<T>> {
  const { provider } = ctx.oidc;
  const account = await deps.findAccount(ctx, plan.subjectId);
  if (!account) throw new Error('findAccount returned nothing for an account the directory knows');
  const scope = plan.scopes.join(' ');
  const claims = await account.claims('id_token', scope, {}, []);
  const idToken = new provider.IdToken({ ...claims, sub: plan.subjectId }, { ctx });
  Object.assign(idToken, { scope });
  // oidc-provider masks the available claims by the granted scope, and `sub` belongs to `openid`: a
  // chained exchange whose subject token granted no `openid` would lose it. OIDC Core §2 requires
  // `sub` in every ID token, so it travels with the claims set after masking.
  idToken.set('sub', plan.subjectId);
  const jti = exchangedJwtId(randomUUID());
  idToken.set('jti', jti);
  for (const [name, value] of Object.entries(exchangeClaims(plan))) idToken.set(name, value);

  // Like an access token, the ID token is recorded under a grant of its own that carries its scope
  // and dies with whatever it was derived from: presented again as a subject or actor token, it
  // yields no more than that scope, and nothing once the grant is revoked.
  const { grant, grantId } = newGrant(ctx, plan);
  const expiresAt = epoch() + plan.lifetime;
  const batch = deps.newBatch();
  const recorded = await withWriteBatch(batch, async () => {
    const saves = [grant.save()];
    const recorded = await saveAudited(batch, saves, beforeSave, { tokenId: jti, expiresAt, grantId, jwtId: jti });
    await Promise.all(saves);
    return recorded;
  });
  const value = await idToken.issue({ use: 'idtoken', expiresAt });
  const response: ExchangeResponse = {
    access_token: value,
    issued_token_type: TokenType.idToken,
    // RFC 8693 §2.2.1: N_A when the issued token is not an access token.
    token_type: 'N_A',
    expires_in: plan.lifetime,
    scope,
  };
  return { response, recorded };
}

/**
 * Issues the planned token (RFC 8693 §2.2.1). `beforeSave` writes the audit record and the
 * impersonation index once the token id is known and before the token is stored or returned: if
 * it fails, nothing is issued (docs/audit.md).
 */
export async function issueTokens<T>(
  ctx: Ctx,
  plan: IssuePlan,
  deps: IssueDependencies,
  beforeSave: BeforeSave<T>,
): Promise<IssueResult<T>> {
  return plan.requestedTokenType === TokenType.idToken
    ? issueIdToken(ctx, plan, deps, beforeSave)
    : issueAccessToken(ctx, plan, deps, beforeSave);
}
