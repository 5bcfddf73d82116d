/** The authorization server endpoints the toolkit needs. */
export interface IssuerEndpoints {
  readonly jwksUri: string | undefined;
  readonly introspectionEndpoint: string | undefined;
}

/** The metadata document could not be read: not the token's fault. */
export class DiscoveryFailed extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`discovery failed: ${detail}`, options);
    this.name = 'DiscoveryFailed';
  }
}

/**
 * The issuer's metadata (OpenID Connect Discovery 1.0 §4, at `<issuer>/.well-known/openid-configuration`),
 * read when an endpoint that was not configured is first needed. A failed read is retried on the next
 * request. The document's `issuer` must equal the configured one (RFC 8414 §3.3).
 */
export function discovery(issuer: string, timeoutMs: number): () => Promise<IssuerEndpoints> {
  let read: Promise<IssuerEndpoints> | undefined;
  return () => {
    read ??= fetchMetadata(issuer, timeoutMs).catch((err: unknown) => {
      read = undefined;
      throw err;
    });
    return read;
  };
}

async function fetchMetadata(issuer: string, timeoutMs: number): Promise<IssuerEndpoints> {
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new DiscoveryFailed(err instanceof Error ? err.name : 'fetch failed', { cause: err });
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new DiscoveryFailed(`HTTP ${response.status}`);
  }
  const metadata = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (typeof metadata !== 'object' || metadata === null) throw new DiscoveryFailed('metadata is not a JSON object');
  if (metadata.issuer !== issuer) throw new DiscoveryFailed('metadata names another issuer');
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { jwksUri: text(metadata.jwks_uri), introspectionEndpoint: text(metadata.introspection_endpoint) };
}
