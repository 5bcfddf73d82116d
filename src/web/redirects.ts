/**
 * Where a browser may be sent after a sign-in: an absolute URL of exactly `origin`, with an absolute
 * path (OIDC Core §4 `target_link_uri`; docs/browser-impersonation.md, "Where a sign-in lands").
 * Answers the URL to redirect to (absolute, so that no browser reads it as a scheme-relative
 * `//host`), or `undefined` for anything else: a relative or scheme-relative value, another origin,
 * a backslash, whitespace or a control character anywhere, and a path whose percent-decoded form
 * starts with `//` or `/\` (`/%2F%2Fevil.example`, `/%5Cevil.example`, decoded up to three times).
 */
export function sameOriginTarget(value: unknown, origin: string): string | undefined {
  if (typeof value !== 'string' || value.length > 2048) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\\\s\u0000-\u001f\u007f]/.test(value)) return undefined;
  const expected = new URL(origin).origin;
  if (value !== expected && !value.startsWith(`${expected}/`)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.origin !== expected || url.username || url.password) return undefined;
  let path = url.pathname;
  for (let i = 0; i < 3; i += 1) {
    if (path.startsWith('//') || path.startsWith('/\\') || path.includes('\\')) return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(path);
    } catch {
      return undefined;
    }
    if (decoded === path) break;
    path = decoded;
  }
  if (path.startsWith('//') || path.startsWith('/\\') || path.includes('\\')) return undefined;
  return `${expected}${url.pathname}${url.search}${url.hash}`;
}
