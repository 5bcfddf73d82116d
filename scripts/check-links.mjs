// Every link in README.md, CONTRIBUTING.md and docs/**/*.md must resolve inside the repository (files, and the
// headings #anchors name), and the only links that leave it go to RFCs and upstream projects.
//
//   node scripts/check-links.mjs [repository root]      exit 1 listing each bad link
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a link may leave the repository: RFCs, upstream projects, and the demo servers `npm start` runs. */
const ALLOWED_EXTERNAL = [
  /^https:\/\/(www\.)?rfc-editor\.org\//,
  /^https:\/\/datatracker\.ietf\.org\//,
  /^https:\/\/github\.com\/panva\//, // oidc-provider, openid-client, jose
  /^https:\/\/openid\.net\//,
  /^https:\/\/(www\.)?standardwebhooks\.com\/?/,
  /^https:\/\/nodejs\.org\//,
  /^https:\/\/(www\.)?npmjs\.com\//,
  /^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/|$)/, // the reference server, demo app and orders API
];

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
export function anchorsOf(markdown) {
  const anchors = new Set();
  const seen = new Map();
  for (const line of withoutCode(markdown).split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '').replace(/<[^>]+>/g, '');
      const base = text.toLowerCase().trim().replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '').replace(/ /g, '-');
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const [, id] of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(id);
  }
  return anchors;
}

/** The text with fenced code blocks and inline code spans blanked (links there are examples, not links). */
function withoutCode(markdown) {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' ')).replace(/`[^`\n]*`/g, (span) => ' '.repeat(span.length));
}

/** Every link target in a markdown text, with its line number. */
export function linksOf(markdown) {
  const links = [];
  const text = withoutCode(markdown);
  const patterns = [
    /!?\[(?:[^\]]|\][^(])*?\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g, // [text](target "title"), ![alt](src)
    /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm, // [label]: target
    /<((?:https?|mailto):[^>\s]+)>/g, // <https://…>
    /\s(?:href|src)="([^"]+)"/g, // raw HTML
  ];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) {
      links.push({ target: match[1], line: text.slice(0, match.index).split('\n').length });
    }
  }
  return links;
}

/** The problems of the links of `file` (absolute), in a repository at `root`. */
export function checkFile(root, file) {
  const problems = [];
  const markdown = readFileSync(file, 'utf8');
  const where = (line) => `${relative(root, file)}:${line}`;
  for (const { target, line } of linksOf(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      if (!ALLOWED_EXTERNAL.some((allowed) => allowed.test(target))) {
        problems.push(`${where(line)}: ${target} leaves the repository (allowed: RFCs, upstream projects, the local demo servers)`);
      }
      continue;
    }
    const [path, fragment] = target.split('#', 2);
    const resolved = path ? resolve(dirname(file), decodeURIComponent(path)) : file;
    if (resolved !== root && !resolved.startsWith(root + sep)) {
      problems.push(`${where(line)}: ${target} points outside the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${where(line)}: ${target}: no such file in the repository`);
      continue;
    }
    if (fragment && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(fragment)) {
      problems.push(`${where(line)}: ${target}: no heading or anchor #${fragment} in ${relative(root, resolved)}`);
    }
  }
  return problems;
}

/** README.md, CONTRIBUTING.md and every markdown file under docs/. */
export function documents(root) {
  const found = ['README.md', 'CONTRIBUTING.md'].map((name) => join(root, name)).filter((path) => existsSync(path));
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md')) found.push(path);
    }
  };
  if (existsSync(join(root, 'docs'))) walk(join(root, 'docs'));
  return found;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const files = documents(root);
  const problems = files.flatMap((file) => checkFile(root, file));
  if (problems.length > 0) {
    process.stderr.write(`check-links: ${problems.length} bad link(s)\n${problems.join('\n')}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-links: ok (${files.length} files)\n`);
}
