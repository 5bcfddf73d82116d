import { base64url } from 'jose';

/** base64url(SHA-256(value)) through WebCrypto, so the toolkit runs in Node, Deno and workers alike. */
export async function sha256(value: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value))));
}
