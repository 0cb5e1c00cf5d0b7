import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isNotFound } from '../errors/index.js';
import { readJsonIfExists, removeTempFiles, writeJsonAtomic } from '../util/atomic.js';
import type { ContainerRecord } from './containers.js';

/**
 * Container records on disk: `<root>/<id>/config.json`, one directory per container, holding
 * also its log and its hostname/hosts/resolv.conf files. The record file is the commit point
 * of a create: a directory without one is the leftover of a create that crashed.
 */
export interface RecordStore {
  /** Every complete record; directories without a record are removed. */
  loadAll(): Promise<ContainerRecord[]>;
  save(record: ContainerRecord): Promise<void>;
  /** The container's own directory (made on demand). */
  dir(id: string): string;
  ensureDir(id: string): Promise<string>;
  /** Removes the container's directory and everything in it. */
  remove(id: string): Promise<void>;
}

const recordName = 'config.json';

export function newRecordStore(root: string): RecordStore {
  const dir = (id: string): string => path.join(root, id);
  return {
    dir,
    async loadAll(): Promise<ContainerRecord[]> {
      await fs.mkdir(root, { recursive: true });
      const records: ContainerRecord[] = [];
      for (const id of await fs.readdir(root)) {
        if (!/^[a-f0-9]{64}$/.test(id)) continue;
        await removeTempFiles(dir(id));
        const record = await readJsonIfExists<ContainerRecord>(path.join(dir(id), recordName));
        if (record) records.push(record);
        else await fs.rm(dir(id), { recursive: true, force: true });
      }
      return records;
    },
    async save(record: ContainerRecord): Promise<void> {
      await writeJsonAtomic(path.join(dir(record.id), recordName), record);
    },
    async ensureDir(id: string): Promise<string> {
      await fs.mkdir(dir(id), { recursive: true, mode: 0o710 });
      return dir(id);
    },
    async remove(id: string): Promise<void> {
      try {
        await fs.rm(dir(id), { recursive: true, force: true });
      } catch (err: unknown) {
        if (!isNotFound(err)) throw err;
      }
    },
  };
}
