/**
 * Serialises async work per key: `withLock(key, fn)` runs fn after every earlier call with the
 * same key has settled. Used to keep one writer per record (a container, an image name).
 */
export class KeyedMutex {
  readonly #tails = new Map<string, Promise<unknown>>();

  async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
