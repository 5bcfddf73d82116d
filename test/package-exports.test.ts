import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';

/** What a consumer imports: the package's exports map, resolved by Node from dist/ (built by the global setup). */
function importInNode(script: string): { stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return { stdout: run.stdout.trim(), stderr: run.stderr.replace(/^oidc-provider WARNING: Unsupported runtime.*\n/m, '') };
}

describe('the package exports', () => {
  it.each([
    ['oidc-provider-token-exchange', ['tokenExchange', 'ConfigurationError', 'MemoryAuditSink', 'createMemoryStore', 'createStore', 'verifyWebhook']],
    ['oidc-provider-token-exchange/redis', ['connectRedis', 'connectRedisCluster']],
    ['oidc-provider-token-exchange/resource-server', ['createResourceServer', 'requireScopes', 'denyWhenImpersonated', 'AccessDenied']],
    ['oidc-provider-token-exchange/banner', ['impersonationBanner', 'renderImpersonationBanner', 'bannerElementFile']],
  ])('%s resolves and exports what the documentation uses', (specifier, names) => {
    const { stdout, stderr } = importInNode(`const m = await import(${JSON.stringify(specifier)}); console.log(Object.keys(m).join(' '));`);
    expect(stderr).toBe('');
    expect(stdout.split(' ')).toEqual(expect.arrayContaining(names));
  });

  it('verifyWebhook from the package root checks a Standard Webhooks signature', () => {
    const script = `
      import { createHmac } from 'node:crypto';
      import { verifyWebhook } from 'oidc-provider-token-exchange';
      const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
      const id = 'msg_1', timestamp = String(Math.floor(Date.now() / 1000)), body = '{"type":"impersonation.started"}';
      const signature = 'v1,' + createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(id + '.' + timestamp + '.' + body).digest('base64');
      const headers = { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature };
      console.log(verifyWebhook(secret, headers, body), verifyWebhook(secret, headers, body + ' '));`;
    expect(importInNode(script)).toEqual({ stdout: 'true false', stderr: '' });
  });
});
