// oidc-provider warns once per provider about Node < 22 and its development in-memory adapter; both
// are known on these machines (the project runs on Node 20) and say nothing about the behaviour under test.
// Under jest's VM modules oidc-provider cannot find undici's global dispatcher, so it warns once
// that it runs back-channel logout requests without its SSRF guard; a Node process finds it (the
// reference server then lets loopback through for its fixture clients: docs/browser-impersonation.md).
const KNOWN = [
  /^oidc-provider WARNING: Unsupported runtime/,
  /^oidc-provider WARNING: a quick start development-only in-memory adapter/,
  /^oidc-provider NOTICE: default renderError/,
  /^oidc-provider WARNING: failed to setup SSRF protection for fetch/,
];
const { warn, info } = console;
console.warn = (...args: unknown[]) => (typeof args[0] === 'string' && KNOWN.some((re) => re.test(args[0] as string)) ? undefined : warn(...args));
console.info = (...args: unknown[]) => (typeof args[0] === 'string' && KNOWN.some((re) => re.test(args[0] as string)) ? undefined : info(...args));
