/**
 * Waits on markers, for tests: a condition checked now and then every 50 ms (a file, a process,
 * a log line, a journal step, a chain state). Never a timing assertion: `timeoutMs` only bounds a
 * test that would otherwise hang, and fails it with what was awaited.
 */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
