import type { ImpersonationPolicy } from '../config/policy.js';
import type { ResourceServerDefinition } from '../config/targets.js';
import { TokenType } from '../constants.js';
import { invalidTarget } from '../errors.js';
import type { RequestedTokenType } from './request.js';

/** A token's `aud` as a list (a JWT may carry one string or an array; anything else is none). */
export function audienceOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
}

/** A resolved target: the resource indicator and its definition. */
export interface Target {
  readonly identifier: string;
  readonly definition: ResourceServerDefinition;
}

/** The resource servers known to the extension, looked up by indicator or by logical audience. */
export class ResourceServerRegistry {
  readonly #byName = new Map<string, Target>();
  readonly #byIdentifier = new Map<string, Target>();
  readonly #servedBy = new Map<string, string[]>();

  constructor(definitions: Readonly<Record<string, ResourceServerDefinition>>) {
    for (const [identifier, definition] of Object.entries(definitions)) {
      const target = { identifier, definition };
      this.#byIdentifier.set(identifier, target);
      this.#byName.set(identifier, target);
      if (definition.audience) this.#byName.set(definition.audience, target);
      for (const clientId of definition.clients) {
        this.#servedBy.set(clientId, [...(this.#servedBy.get(clientId) ?? []), identifier, ...(definition.audience ? [definition.audience] : [])]);
      }
    }
  }

  /** The resource server with this indicator (exact match), as oidc-provider asks for it. */
  byIdentifier(identifier: string): Target | undefined {
    return this.#byIdentifier.get(identifier);
  }

  /** The resource server named by an indicator or an audience value. */
  find(name: string): Target | undefined {
    return this.#byName.get(name);
  }

  /** Indicators and audiences of every resource server this client speaks for (computed once). */
  servedBy(clientId: string): readonly string[] {
    return this.#servedBy.get(clientId) ?? [];
  }
}

/**
 * RFC 8707 §2 and RFC 8693 §2.1: `resource` and `audience` name where the token will be used. One
 * target per token; unknown or not-allowed targets are `invalid_target`. A JWT needs an audience
 * (RFC 9068 §2.2); an ID token's audience is always the client (OIDC Core §2).
 */
export function resolveTarget(
  targets: readonly string[],
  requestedTokenType: RequestedTokenType,
  registry: ResourceServerRegistry,
  policy: ImpersonationPolicy,
): Target | undefined {
  if (requestedTokenType === TokenType.idToken) {
    if (targets.length) throw invalidTarget('target_not_allowed', 'resource and audience do not apply to an ID token');
    return undefined;
  }
  if (targets.length === 0) {
    if (requestedTokenType === TokenType.jwt) throw invalidTarget('target_required', 'a JWT needs a resource or audience');
    return undefined;
  }
  if (targets.length > 1) throw invalidTarget('target_multiple', 'only one resource or audience may be requested');
  const name = targets[0]!;
  const target = registry.find(name);
  if (!target) throw invalidTarget('target_unknown', 'the requested resource or audience is unknown', name);
  const allow = policy.audiences.allow;
  if (allow && !allow.includes(target.identifier) && !(target.definition.audience && allow.includes(target.definition.audience))) {
    throw invalidTarget('target_not_allowed', 'the requested resource or audience is not allowed for impersonation', name);
  }
  return target;
}
