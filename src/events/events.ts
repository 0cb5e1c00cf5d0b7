import type { EngineEvent } from '../spec/engine.js';

/**
 * The event exchange: services publish what happened; `/events` subscribers read it. Keeps a
 * bounded history so that `since` can replay recent events.
 */
export interface EventInput {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'builder';
  Action: string;
  id: string;
  attributes?: Record<string, string>;
}

export interface EventSubscription {
  /** Events from now on, in order, until `close`. */
  [Symbol.asyncIterator](): AsyncIterator<EngineEvent>;
  close(): void;
}

export interface Events {
  publish(event: EventInput): void;
  /** Recorded events with time in [since, until] (seconds, fractions allowed). */
  history(since?: number, until?: number): EngineEvent[];
  subscribe(): EventSubscription;
}
