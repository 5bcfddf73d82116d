import { TokenType, type ImpersonationMode } from '../constants.js';
import { invalidRequest } from '../errors.js';
import { validateReason } from './reason.js';

export type SubjectTokenType =
  | typeof TokenType.accessToken
  | typeof TokenType.idToken
  | typeof TokenType.jwt
  | typeof TokenType.userId;
export type ActorTokenType = typeof TokenType.accessToken | typeof TokenType.idToken | typeof TokenType.jwt;
export type RequestedTokenType = typeof TokenType.accessToken | typeof TokenType.jwt | typeof TokenType.idToken;

/** A token exchange request after syntax checks; nothing in it has been verified yet. */
export interface ExchangeRequest {
  readonly subjectToken: string;
  readonly subjectTokenType: SubjectTokenType;
  readonly actorToken: string | undefined;
  readonly actorTokenType: ActorTokenType | undefined;
  readonly requestedTokenType: RequestedTokenType;
  readonly requestedExpiresIn: number | undefined;
  readonly reason: string | undefined;
  readonly scopes: readonly string[] | undefined;
  readonly targets: readonly string[];
  /** Extension: `impersonation_mode=read` asks for a read-only impersonation (`full` is the default). */
  readonly impersonationMode: ImpersonationMode | undefined;
  /** Extension: `approval_id`, the subject's approval this impersonation starts under. */
  readonly approvalId: string | undefined;
}

type RawParams = Readonly<Record<string, string | string[] | undefined>>;

const SUBJECT_TYPES: ReadonlySet<string> = new Set([TokenType.accessToken, TokenType.idToken, TokenType.jwt, TokenType.userId]);
const ACTOR_TYPES: ReadonlySet<string> = new Set([TokenType.accessToken, TokenType.idToken, TokenType.jwt]);
const REQUESTED_TYPES: ReadonlySet<string> = new Set([TokenType.accessToken, TokenType.jwt, TokenType.idToken]);

function single(params: RawParams, name: string): string | undefined {
  const value = params[name];
  if (Array.isArray(value)) return value[0] === '' ? undefined : value[0];
  return value === '' ? undefined : value;
}

function many(params: RawParams, name: string): string[] {
  const value = params[name];
  if (value === undefined || value === '') return [];
  return (Array.isArray(value) ? value : [value]).filter((v) => v !== '');
}

function required(params: RawParams, name: string): string {
  const value = single(params, name);
  if (value === undefined) throw invalidRequest('parameter_missing', `missing required parameter '${name}'`);
  return value;
}

/** RFC 8693 §2.1: subject_token and subject_token_type are REQUIRED. */
function parseSubject(params: RawParams): Pick<ExchangeRequest, 'subjectToken' | 'subjectTokenType'> {
  const subjectToken = required(params, 'subject_token');
  const subjectTokenType = required(params, 'subject_token_type');
  if (!SUBJECT_TYPES.has(subjectTokenType)) {
    throw invalidRequest('token_type_unsupported', 'unsupported subject_token_type');
  }
  return { subjectToken, subjectTokenType: subjectTokenType as SubjectTokenType };
}

/**
 * RFC 8693 §2.1: actor_token_type is REQUIRED when actor_token is present and MUST NOT be sent
 * otherwise. docs/grant.md: the user-id subject type is impersonation without the subject's token, so an
 * actor token is required with it.
 */
function parseActor(params: RawParams, subjectTokenType: SubjectTokenType): Pick<ExchangeRequest, 'actorToken' | 'actorTokenType'> {
  const actorToken = single(params, 'actor_token');
  const actorTokenType = single(params, 'actor_token_type');
  if (actorToken === undefined && actorTokenType !== undefined) {
    throw invalidRequest('parameter_missing', "actor_token_type given without 'actor_token'");
  }
  if (actorToken !== undefined && actorTokenType === undefined) {
    throw invalidRequest('parameter_missing', "missing required parameter 'actor_token_type'");
  }
  if (actorToken === undefined) {
    if (subjectTokenType === TokenType.userId) {
      throw invalidRequest('actor_token_required', 'actor_token is required when subject_token_type is the user-id type');
    }
    return { actorToken: undefined, actorTokenType: undefined };
  }
  if (!ACTOR_TYPES.has(actorTokenType!)) {
    throw invalidRequest('token_type_unsupported', 'unsupported actor_token_type');
  }
  return { actorToken, actorTokenType: actorTokenType as ActorTokenType };
}

/** RFC 8693 §2.1 requested_token_type; docs/grant.md: a refresh token is never issued. */
function parseRequestedTokenType(params: RawParams): RequestedTokenType {
  const value = single(params, 'requested_token_type') ?? TokenType.accessToken;
  if (value === TokenType.refreshToken) {
    throw invalidRequest('requested_token_type_unsupported', 'refresh tokens are never issued by token exchange');
  }
  if (!REQUESTED_TYPES.has(value)) {
    throw invalidRequest('requested_token_type_unsupported', 'unsupported requested_token_type');
  }
  return value as RequestedTokenType;
}

/** docs/grant.md extension: requested_expires_in, a positive whole number of seconds. */
function parseRequestedExpiresIn(params: RawParams): number | undefined {
  const value = single(params, 'requested_expires_in');
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(value)) {
    throw invalidRequest('requested_expires_in_invalid', 'requested_expires_in must be a positive integer number of seconds');
  }
  return Number(value);
}

/** docs/grant.md reason, checked by src/exchange/reason.ts; whether it is required is policy. */
function parseReason(params: RawParams): string | undefined {
  return validateReason(single(params, 'reason'));
}

/** RFC 6749 §3.3 scope: space-delimited; oidc-provider already rejected invalid characters. */
function parseScope(params: RawParams): string[] | undefined {
  const value = single(params, 'scope');
  if (value === undefined) return undefined;
  const scopes = [...new Set(value.split(' ').filter(Boolean))];
  return scopes.length ? scopes : undefined;
}

/** RFC 8707 resource (absolute URIs) and RFC 8693 §2.1 audience (logical names) are both targets. */
function parseTargets(params: RawParams): string[] {
  return [...new Set([...many(params, 'resource'), ...many(params, 'audience')])];
}

/** Extension parameter `impersonation_mode`: `read` or `full`. */
function parseMode(params: RawParams): ImpersonationMode | undefined {
  const value = single(params, 'impersonation_mode');
  if (value === undefined) return undefined;
  if (value !== 'read' && value !== 'full') throw invalidRequest('impersonation_mode_invalid', "impersonation_mode must be 'read' or 'full'");
  return value;
}

/** An approval id as this extension mints them (a UUID); anything else cannot name one. */
export const APPROVAL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Extension parameter `approval_id`. */
function parseApprovalId(params: RawParams): string | undefined {
  const value = single(params, 'approval_id');
  if (value === undefined) return undefined;
  if (!APPROVAL_ID.test(value)) throw invalidRequest('approval_unknown', 'unknown approval');
  return value;
}

/** Parses the grant's parameters; throws a refusal naming the first problem found. */
export function parseExchangeRequest(params: RawParams): ExchangeRequest {
  const { subjectToken, subjectTokenType } = parseSubject(params);
  const { actorToken, actorTokenType } = parseActor(params, subjectTokenType);
  // Named one by one: spreading the parts into the literal cost more than all the checks (a profile).
  return {
    subjectToken,
    subjectTokenType,
    actorToken,
    actorTokenType,
    requestedTokenType: parseRequestedTokenType(params),
    requestedExpiresIn: parseRequestedExpiresIn(params),
    reason: parseReason(params),
    scopes: parseScope(params),
    targets: parseTargets(params),
    impersonationMode: parseMode(params),
    approvalId: parseApprovalId(params),
  };
}

/** The reason as it may be written to the audit record: only a reason that passed validation. */
export function auditableReason(params: RawParams): string | undefined {
  try {
    return parseReason(params);
  } catch {
    return undefined;
  }
}
