// The one bounded-parallel loop: at most `limit` calls of `run` at a time (SFTP requests of an
// upload, `ls` asking each env's agent).

/** Runs `run` on every item, at most `limit` at once; resolves when all have. */
export async function pool<T>(items: T[], limit: number, run: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
