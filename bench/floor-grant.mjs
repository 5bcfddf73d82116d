// The floor of a token exchange on oidc-provider's public API, for the benchmarks only (bench/server.mjs
// registers it; bench/run.mjs and bench/profile.mjs measure it beside client_credentials and the real
// grant). It does what any exchange that issues a revocable token must, and nothing else:
//   - finds the actor's access token and the grant it stands on (RFC 8693 §2.1: the actor token is
//     validated; a token whose grant is gone no longer stands), and the subject's account;
//   - builds a Grant of its own for the new token and saves it (what revocation by grant and
//     introspection rest on), then builds, saves and returns the AccessToken.
// No policy, no reason check, no audit record, no impersonation index, no webhook, no metrics.
// Whatever the real grant costs above this floor is ours; the floor above client_credentials is the
// provider's, and no implementation on its public API can go below it.
// Never registered by the extension or the reference server.
import { errors } from 'oidc-provider';

/** The floor's grant type (a URN of this project's benchmarks, registered by bench/server.mjs only). */
export const FLOOR_GRANT = 'urn:oidc-provider-token-exchange:bench:floor';

const PARAMETERS = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'resource', 'reason', 'scope'];

/**
 * Registers the floor grant: `resourceServers` are the fixtures' (identifier → { scope,
 * accessTokenFormat }), `findAccount` the provider's own (configuration `findAccount`).
 */
export function registerFloorGrant(provider, resourceServers, findAccount) {
  const { InvalidGrant, InvalidTarget } = errors;
  provider.registerGrantType(
    FLOOR_GRANT,
    async function floorGrant(ctx) {
      const { params, client } = ctx.oidc;
      const actor = await provider.AccessToken.find(String(params.actor_token));
      if (!actor || actor.isExpired) throw new InvalidGrant('actor token invalid');
      if (!(await provider.Grant.find(actor.grantId))) throw new InvalidGrant('actor token revoked');
      const subject = await findAccount(ctx, String(params.subject_token));
      if (!subject) throw new InvalidGrant('subject unknown');
      const identifier = String(params.resource);
      const definition = resourceServers[identifier];
      if (!definition) throw new InvalidTarget();
      const lifetime = 3600;
      const resourceServer = new provider.ResourceServer(identifier, { scope: definition.scope, audience: identifier, accessTokenFormat: definition.accessTokenFormat, accessTokenTTL: lifetime });
      const grant = new provider.Grant({ accountId: subject.accountId, clientId: client.clientId });
      grant.addResourceScope(identifier, definition.scope);
      grant.expiresIn = lifetime;
      const grantId = await grant.save();
      const token = new provider.AccessToken({ accountId: subject.accountId, client, grantId, gty: FLOOR_GRANT, scope: definition.scope, expiresIn: lifetime, resourceServer });
      ctx.oidc.entity('AccessToken', token);
      ctx.body = {
        access_token: await token.save(),
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: token.tokenType,
        expires_in: lifetime,
        scope: definition.scope,
      };
    },
    PARAMETERS,
  );
}
