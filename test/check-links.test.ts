import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** scripts/check-links.mjs: README.md, CONTRIBUTING.md and docs/**\/*.md link only inside the repository, RFCs and upstream projects. */
const check = (root?: string) => spawnSync(process.execPath, ['scripts/check-links.mjs', ...(root ? [root] : [])], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });

describe('the link check', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'links-'));
    mkdirSync(join(root, 'docs', 'screenshots'), { recursive: true });
    writeFileSync(join(root, 'docs', 'screenshots', 'a.png'), '');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('checks CONTRIBUTING.md too', () => {
    const own = mkdtempSync(join(tmpdir(), 'links-'));
    try {
      writeFileSync(join(own, 'README.md'), '# Title\n');
      writeFileSync(join(own, 'CONTRIBUTING.md'), '# Contributing\n\n[gone](docs/gone.md)\n');
      const run = check(own);
      expect([run.status, run.stderr.split('\n').filter(Boolean)]).toEqual([1, ['check-links: 1 bad link(s)', 'CONTRIBUTING.md:3: docs/gone.md: no such file in the repository']]);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('passes on this repository', () => {
    const run = check();
    expect([run.status, run.stderr]).toEqual([0, '']);
  });

  it('accepts files, headings, RFCs, upstream projects and the local demo servers', () => {
    writeFileSync(
      join(root, 'README.md'),
      '# Title\n\n## The grant\n\nSee [grant](#the-grant), [guide](docs/guide.md#step-two), ![shot](docs/screenshots/a.png),\n' +
        '[RFC 8693](https://www.rfc-editor.org/rfc/rfc8693), [oidc-provider](https://github.com/panva/node-oidc-provider), <http://localhost:3000/admin>.\n' +
        '```md\n[not a link](../shared/SPEC.md)\n```\n',
    );
    writeFileSync(join(root, 'docs', 'guide.md'), '# Guide\n\n## Step two\n\nBack to [the README](../README.md#title).\n');
    const run = check(root);
    expect([run.status, run.stderr]).toEqual([0, '']);
  });

  it('names each link that is missing, leaves the repository or names no heading', () => {
    writeFileSync(
      join(root, 'README.md'),
      '# Title\n\n[spec](../shared/SPEC.md) [gone](docs/gone.md) [anchor](#nowhere) [blog](https://example.com/post)\n',
    );
    writeFileSync(join(root, 'docs', 'guide.md'), '# Guide\n\n[wrong heading](../README.md#step-two)\n');
    const run = check(root);
    expect(run.status).toBe(1);
    expect(run.stderr.split('\n').filter(Boolean)).toEqual([
      'check-links: 5 bad link(s)',
      'README.md:3: ../shared/SPEC.md points outside the repository',
      'README.md:3: docs/gone.md: no such file in the repository',
      'README.md:3: #nowhere: no heading or anchor #nowhere in README.md',
      'README.md:3: https://example.com/post leaves the repository (allowed: RFCs, upstream projects, the local demo servers)',
      'docs/guide.md:3: ../README.md#step-two: no heading or anchor #step-two in README.md',
    ]);
  });
});
