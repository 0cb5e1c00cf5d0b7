/**
 * A readers-writer lock for async work: any number of `shared` holders at once, or one
 * `exclusive` holder. A waiting exclusive request blocks new shared ones, so GC (the exclusive
 * side) is not starved by a steady stream of pushes.
 */
export class RwLock {
  #readers = 0;
  #writer = false;
  #queue: { exclusive: boolean; wake: () => void }[] = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(false);
    try {
      return await fn();
    } finally {
      this.#readers--;
      this.#drain();
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire(true);
    try {
      return await fn();
    } finally {
      this.#writer = false;
      this.#drain();
    }
  }

  #acquire(exclusive: boolean): Promise<void> {
    if (this.#queue.length === 0 && this.#canRun(exclusive)) {
      this.#take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push({ exclusive, wake: resolve }));
  }

  #canRun(exclusive: boolean): boolean {
    return exclusive ? !this.#writer && this.#readers === 0 : !this.#writer;
  }

  #take(exclusive: boolean): void {
    if (exclusive) this.#writer = true;
    else this.#readers++;
  }

  #drain(): void {
    while (this.#queue.length > 0) {
      const next = this.#queue[0] as { exclusive: boolean; wake: () => void };
      if (!this.#canRun(next.exclusive)) return;
      this.#queue.shift();
      this.#take(next.exclusive);
      next.wake();
    }
  }
}
