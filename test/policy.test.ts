import { describe, expect, it } from '@jest/globals';
import { parsePolicy } from '../src/config.js';
import { ExchangeRefusal } from '../src/errors.js';
import { wrapActor } from '../src/exchange/act.js';
import { grantedScopes, lifetimeSeconds, assertChainLength } from '../src/exchange/policy.js';

const policy = parsePolicy({ enabled: true, scopes: { allow: ['openid', 'profile', 'offline_access'], deny: ['profile'] } });

describe('pure policy decisions', () => {
  it('never grants offline_access, even when every list allows it', () => {
    expect(grantedScopes({ requested: ['openid', 'offline_access'], limits: [['openid', 'offline_access']], policy, impersonating: true })).toEqual(['openid']);
  });

  it('takes every allowed scope when none is requested', () => {
    expect(grantedScopes({ requested: undefined, limits: [['openid', 'profile', 'email']], policy, impersonating: true })).toEqual(['openid']);
  });

  it('applies allow- and deny-lists to impersonation only', () => {
    expect(grantedScopes({ requested: ['profile', 'email'], limits: [undefined], policy, impersonating: false })).toEqual(['profile', 'email']);
  });

  it('refuses an empty intersection with invalid_scope', () => {
    expect(() => grantedScopes({ requested: ['email'], limits: [], policy, impersonating: true })).toThrow(ExchangeRefusal);
  });

  it('takes the smallest of requested, ceiling and remaining life', () => {
    expect(lifetimeSeconds({ requested: undefined, ceiling: 3600, incomingExpiresAt: undefined, now: 0 })).toBe(3600);
    expect(lifetimeSeconds({ requested: 60, ceiling: 3600, incomingExpiresAt: undefined, now: 0 })).toBe(60);
    expect(lifetimeSeconds({ requested: 600, ceiling: 3600, incomingExpiresAt: 1100, now: 1000 })).toBe(100);
  });

  it('refuses when the incoming token has no life left', () => {
    expect(() => lifetimeSeconds({ requested: undefined, ceiling: 3600, incomingExpiresAt: 1000, now: 1000 })).toThrow(ExchangeRefusal);
  });

  it('counts actors of a nested act claim against maxActors', () => {
    const three = wrapActor({ sub: 'c' }, wrapActor({ sub: 'b' }, wrapActor({ sub: 'a' }, undefined)));
    expect(() => assertChainLength(three, policy)).not.toThrow();
    expect(() => assertChainLength(wrapActor({ sub: 'd' }, three), policy)).toThrow(ExchangeRefusal);
  });
});
