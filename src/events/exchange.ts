import type { EngineEvent } from '../spec/engine.js';
import type { EventInput, Events, EventSubscription } from './events.js';

const historyLimit = 1024;

class Exchange implements Events {
  readonly #history: EngineEvent[] = [];
  readonly #subscribers = new Set<Subscription>();

  publish(input: EventInput): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    const attributes = input.attributes ?? {};
    const event: EngineEvent = {
      Type: input.Type,
      Action: input.Action,
      Actor: { ID: input.id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    // dockerd still fills the pre-1.22 fields for containers and images.
    if (input.Type === 'container' || input.Type === 'image') {
      event.status = input.Action;
      event.id = input.id;
      if (attributes['image'] !== undefined) event.from = attributes['image'];
    }
    this.#history.push(event);
    if (this.#history.length > historyLimit) this.#history.shift();
    for (const s of this.#subscribers) s.push(event);
  }

  history(since?: number, until?: number): EngineEvent[] {
    return this.#history.filter((e) => {
      const t = e.timeNano / 1e9;
      return (since === undefined || t >= since) && (until === undefined || t <= until);
    });
  }

  subscribe(): EventSubscription {
    const s = new Subscription(() => this.#subscribers.delete(s));
    this.#subscribers.add(s);
    return s;
  }
}

class Subscription implements EventSubscription {
  readonly #queue: EngineEvent[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  constructor(private readonly onClose: () => void) {}

  push(event: EngineEvent): void {
    this.#queue.push(event);
    this.#wake?.();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<EngineEvent> {
    while (true) {
      const next = this.#queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
  }
}

/** A new in-memory event exchange with a bounded history. */
export function newEventExchange(): Events {
  return new Exchange();
}
