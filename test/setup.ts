// oidc-provider warns once per provider about Node < 22 and its development in-memory adapter; both
// are known on these machines (SPEC: Node 20) and say nothing about the behaviour under test.
const KNOWN = [/^oidc-provider WARNING: Unsupported runtime/, /^oidc-provider WARNING: a quick start development-only in-memory adapter/, /^oidc-provider NOTICE: default renderError/];
const { warn, info } = console;
console.warn = (...args: unknown[]) => (typeof args[0] === 'string' && KNOWN.some((re) => re.test(args[0] as string)) ? undefined : warn(...args));
console.info = (...args: unknown[]) => (typeof args[0] === 'string' && KNOWN.some((re) => re.test(args[0] as string)) ? undefined : info(...args));
