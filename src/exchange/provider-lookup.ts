import type Provider from 'oidc-provider';
import type { ImpersonationStore } from '../store/impersonations.js';
import type { IssuedTokenLookup, StoredToken } from './verify.js';

interface ModelToken {
  kind: string;
  jti: string;
  accountId?: string;
  clientId?: string;
  aud?: string | string[];
  scope?: string;
  exp?: number;
  extra?: Record<string, unknown>;
  grantId?: string;
  sessionUid?: string;
  jkt?: string;
  isValid: boolean;
}

/**
 * Reads tokens through oidc-provider's public models: a token counts only while it is stored,
 * unexpired, and (for access tokens) its grant still exists for the same client and account —
 * the same test the provider's own introspection applies.
 */
export function providerTokenLookup(provider: Provider, impersonations: ImpersonationStore): IssuedTokenLookup {
  async function grantStands(token: ModelToken): Promise<boolean> {
    if (!token.grantId) return true;
    const grant = await provider.Grant.find(token.grantId);
    return !!grant && grant.clientId === token.clientId && grant.accountId === token.accountId;
  }

  function toStored(token: ModelToken): StoredToken {
    return {
      kind: token.kind as StoredToken['kind'],
      jti: token.jti,
      accountId: token.accountId,
      clientId: token.clientId!,
      aud: token.aud,
      scope: token.scope,
      exp: token.exp!,
      extra: token.extra,
      grantId: token.grantId,
      sessionUid: token.sessionUid,
      jkt: token.jkt,
    };
  }

  return {
    async findActiveToken(value) {
      const token = ((await provider.AccessToken.find(value)) ?? (await provider.ClientCredentials.find(value))) as ModelToken | undefined;
      if (!token?.isValid || !token.clientId) return undefined;
      return (await grantStands(token)) ? toStored(token) : undefined;
    },
    jwtGrant: (jti) => impersonations.jwtGrant(jti),
    async grantExists(grantId) {
      return (await provider.Grant.find(grantId)) !== undefined;
    },
    async grantScopes(grantId) {
      const grant = await provider.Grant.find(grantId);
      if (!grant) return undefined;
      const resources = Object.values((grant as { resources?: Record<string, string> }).resources ?? {});
      return [...new Set([grant.getOIDCScope(), ...resources].flatMap((scope) => scope.split(' ')).filter(Boolean))];
    },
    async uniqueProof(clientId, jti, expiresAt) {
      return provider.ReplayDetection.unique(clientId, jti, expiresAt);
    },
    async sessionAuthTime(sessionUid) {
      const session = await provider.Session.findByUid(sessionUid);
      return session?.authTime();
    },
  };
}
