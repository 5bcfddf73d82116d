/**
 * Retries `check` every 100 ms until it resolves to anything but `false`; after `timeoutMs` fails
 * with the last error (or says the condition was not met).
 */
export async function until(check: () => Promise<unknown>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown = new Error('condition not met in time');
    try {
      if ((await check()) !== false) return;
    } catch (err) {
      failure = err;
    }
    if (Date.now() > deadline) throw failure;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
