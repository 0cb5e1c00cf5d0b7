import { humanSize } from '../util/human.js';

/** One message of a pull or push progress stream, in dockerd's JSON shape. */
export interface ProgressEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  /** The rendered bar, as dockerd puts it in the stream (`[==>   ]  1.2MB/3.4MB`). */
  progress?: string;
  aux?: Record<string, unknown>;
}

/** dockerd's progress string for a wide (200 column) stream: bar and numbers. */
export function progressBar(current: number, total: number): string {
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return humanSize(current, 4).padStart(8);
  let filled = Math.floor(Math.floor((current / total) * 100) / 2);
  if (filled > 50) filled = 50;
  const box = `[${'='.repeat(filled)}>${' '.repeat(50 - filled)}] `;
  return `${box}${humanSize(current, 4).padStart(8)}/${humanSize(total, 4)}`;
}

/** A message with a byte count, as dockerd writes Downloading / Pushing / Extracting. */
export function progressEvent(
  id: string,
  status: string,
  current: number,
  total: number,
): ProgressEvent {
  return {
    status,
    progressDetail: { current, total },
    progress: progressBar(current, total),
    id,
  };
}

/** A message about one layer without numbers (`Pull complete`). */
export function layerEvent(id: string, status: string): ProgressEvent {
  return { status, progressDetail: {}, id };
}

/** Runs `fn` over `items` with at most `limit` at once; the first failure is thrown. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i] as T, i);
      } catch (err: unknown) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed.err;
}
