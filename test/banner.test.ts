import { describe, expect, it } from '@jest/globals';
import { impersonationBanner, renderImpersonationBanner } from '../src/banner/index.js';

describe('the banner server helper (docs/admin-console.md)', () => {
  it('returns nothing for ID token claims without act', () => {
    expect(impersonationBanner({ sub: 'alice', name: 'Alice Anders' })).toBeUndefined();
  });

  it('names the subject and the actor of a single act', () => {
    expect(impersonationBanner({ sub: 'alice', act: { sub: 'support' }, impersonation: { id: 'imp-1', started_at: 1 } })).toEqual({
      subject: 'alice',
      actor: 'support',
      chain: [{ sub: 'support' }],
      impersonationId: 'imp-1',
    });
  });

  it('names the human at the end of a chain as the actor and the outermost actor as via (RFC 8693 §4.1)', () => {
    const view = impersonationBanner({ sub: 'alice', act: { sub: 'orders-api', act: { sub: 'support', iss: 'https://idp.example' } } });
    expect(view).toEqual({
      subject: 'alice',
      actor: 'support',
      via: 'orders-api',
      chain: [{ sub: 'orders-api', act: { sub: 'support', iss: 'https://idp.example' } }, { sub: 'support', iss: 'https://idp.example' }],
    });
  });

  it('says an AI assistant acts when the actor is an AI agent (act.sub_profile), in the element and its fallback', () => {
    const view = impersonationBanner({ sub: 'alice', act: { sub: 'orders-assistant', sub_profile: 'ai_agent' } })!;
    expect(view.actorProfile).toBe('ai_agent');
    const html = renderImpersonationBanner(view);
    expect(html).toContain(' actor-profile="ai_agent"');
    expect(html).toContain('Viewing as <strong>alice</strong> — an AI assistant acts: <strong>orders-assistant</strong> ');
    expect(renderImpersonationBanner(impersonationBanner({ sub: 'alice', act: { sub: 'support', sub_profile: 'user' } })!)).toContain('— signed in by <strong>support</strong>');
  });

  it('still shows a banner when act is present but unreadable', () => {
    expect(impersonationBanner({ sub: 'alice', act: 'support' })).toEqual({ subject: 'alice', actor: 'an unknown actor', chain: [] });
  });

  it('renders the element with every value escaped, and a plain form as fallback content', () => {
    const html = renderImpersonationBanner(
      { subject: '<img src=x onerror=alert(1)>', actor: 'sam "the" support', chain: [] },
      { action: '/logout?a=1&b=2', csrfToken: 'tok"en', expiresAt: new Date('2030-01-01T10:00:00Z') },
    );
    expect(html).toBe(
      '<impersonation-banner subject="&lt;img src=x onerror=alert(1)&gt;" actor="sam &quot;the&quot; support" expires-at="2030-01-01T10:00:00.000Z" action="/logout?a=1&amp;b=2" csrf-field="csrf" csrf-token="tok&quot;en">' +
        '<form method="post" action="/logout?a=1&amp;b=2" role="alert" aria-label="Impersonation in progress">' +
        'Viewing as <strong>&lt;img src=x onerror=alert(1)&gt;</strong> — signed in by <strong>sam &quot;the&quot; support</strong> ' +
        '<input type="hidden" name="csrf" value="tok&quot;en"><button type="submit">End impersonation</button></form></impersonation-banner>',
    );
  });

  it('escapes the via actor, the actor kind and the form field name as well', () => {
    const html = renderImpersonationBanner(
      { subject: 'alice', actor: 'support', via: '"><script>alert(1)</script>', actorProfile: 'user" onclick="x', chain: [] },
      { csrfToken: 't', csrfField: 'c"srf' },
    );
    expect(html).toContain(' actor-profile="user&quot; onclick=&quot;x" via="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).toContain(' csrf-field="c&quot;srf" csrf-token="t">');
    expect(html).toContain('<input type="hidden" name="c&quot;srf" value="t">');
    expect(html).not.toContain('<script');
  });
});
