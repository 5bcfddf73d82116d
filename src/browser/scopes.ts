import type { Client } from 'oidc-provider';
import type { DirectoryAccount } from '../accounts.js';
import type { ResolvedOptions } from '../config.js';
import { impersonationScopes } from '../exchange/checks.js';
import type { ResourceServerRegistry } from '../exchange/targets.js';

/** What a browser impersonation may hold (docs/browser-impersonation.md §4), for the client it opens and the APIs it calls. */
export interface AllowedScopes {
  /** The client's registered scope ∩ `hooks.scopesFor` ∩ the impersonation ceiling (allow − deny, no offline_access). */
  forClient(client: Client, subject: DirectoryAccount): Promise<string[]>;
  /** Of `allowed`, the scopes a declared resource server (allowed by `policy.audiences`) defines; none for any other. */
  forResource(resource: string, allowed: readonly string[]): string[];
}

/** `providerScopes`: what the provider supports, the limit of a client registered without `scope`. */
export function createAllowedScopes(options: ResolvedOptions, resourceServers: ResourceServerRegistry, providerScopes: readonly string[]): AllowedScopes {
  return {
    async forClient(client, subject) {
      const registered = client.scope?.split(' ').filter(Boolean);
      const hooked = options.hooks.scopesFor ? await options.hooks.scopesFor(subject, client.clientId) : undefined;
      let scopes = registered ?? [...providerScopes];
      if (hooked) scopes = scopes.filter((s) => hooked.includes(s));
      return impersonationScopes(scopes, options.policy);
    },
    forResource(resource, allowed) {
      const target = resourceServers.byIdentifier(resource);
      const allow = options.policy.audiences.allow;
      if (!target || (allow && !allow.includes(target.identifier))) return [];
      const defined = target.definition.scope.split(' ');
      return allowed.filter((s) => defined.includes(s));
    },
  };
}
