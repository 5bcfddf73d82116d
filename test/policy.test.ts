import { describe, expect, it } from '@jest/globals';
import { parsePolicy } from '../src/config.js';
import { ExchangeRefusal } from '../src/errors.js';
import { wrapActor } from '../src/claims/act.js';
import { grantedScopes, lifetimeSeconds, assertChainLength, type ScopeLimitSource } from '../src/exchange/checks.js';

const policy = parsePolicy({ enabled: true, scopes: { allow: ['openid', 'profile', 'offline_access'], deny: ['profile'] } });

describe('pure policy decisions', () => {
  const limit = (source: ScopeLimitSource, scopes: string[] | undefined) => ({ source, scopes });
  const refusal = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ExchangeRefusal);
      const { rule, error, description } = err as ExchangeRefusal;
      return { rule, error, description };
    }
    throw new Error('expected a refusal');
  };
  const invalidScope = (description: string) => ({ rule: 'scope_empty', error: 'invalid_scope', description });

  it('never grants offline_access, even when every list allows it', () => {
    expect(grantedScopes({ requested: ['openid', 'offline_access'], limits: [limit('client', ['openid', 'offline_access'])], policy, impersonating: true })).toEqual(['openid']);
  });

  it('takes every allowed scope when none is requested', () => {
    expect(grantedScopes({ requested: undefined, limits: [limit('client', ['openid', 'profile', 'email'])], policy, impersonating: true })).toEqual(['openid']);
  });

  it('applies allow- and deny-lists to impersonation only', () => {
    expect(grantedScopes({ requested: ['profile', 'email'], limits: [limit('client', undefined)], policy, impersonating: false })).toEqual(['profile', 'email']);
  });

  it('says a scope or a resource is needed when nothing is requested and nothing gives one', () => {
    expect(refusal(() => grantedScopes({ requested: undefined, limits: [limit('subject_token', undefined), limit('client', undefined), limit('resource', undefined)], policy, impersonating: true }))).toEqual(
      invalidScope('no scope was requested and none can be derived: send scope, or a resource (RFC 8707) to take its scopes'),
    );
  });

  it("names the client's registered scope when it holds none of the requested scopes", () => {
    expect(refusal(() => grantedScopes({ requested: ['email'], limits: [limit('subject_token', undefined), limit('client', ['openid'])], policy, impersonating: true }))).toEqual(
      invalidScope("the client's registered scope holds none of the requested scopes"),
    );
  });

  it("names the subject token's scope when it holds none of the requested scopes", () => {
    expect(refusal(() => grantedScopes({ requested: ['email'], limits: [limit('subject_token', ['openid']), limit('client', ['email'])], policy, impersonating: false }))).toEqual(
      invalidScope("the subject_token's scope holds none of the requested scopes"),
    );
  });

  it('names the scopesFor hook when it allows none of the requested scopes for the subject', () => {
    expect(refusal(() => grantedScopes({ requested: ['openid'], limits: [limit('client', ['openid']), limit('hook', [])], policy, impersonating: true }))).toEqual(
      invalidScope('none of the requested scopes may be granted for this subject'),
    );
  });

  it('names the resource when it serves none of the requested scopes', () => {
    expect(refusal(() => grantedScopes({ requested: ['openid'], limits: [limit('client', ['openid']), limit('resource', ['billing:read'])], policy, impersonating: true }))).toEqual(
      invalidScope('the requested resource or audience serves none of the requested scopes'),
    );
  });

  it('names the impersonation policy when its lists leave nothing', () => {
    expect(refusal(() => grantedScopes({ requested: ['profile'], limits: [limit('client', ['profile'])], policy, impersonating: true }))).toEqual(
      invalidScope('the impersonation policy allows none of the requested scopes'),
    );
  });

  it('says offline_access is never granted when it was all that was asked for', () => {
    expect(refusal(() => grantedScopes({ requested: ['offline_access'], limits: [limit('client', ['offline_access'])], policy, impersonating: false }))).toEqual(
      invalidScope('offline_access is never granted by token exchange'),
    );
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
