import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { contentSuite } from '../testsuite.js';
import { newLocalContentStore } from './store.js';

contentSuite('local', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-content-'));
  return {
    store: await newLocalContentStore(root),
    reopen: () => newLocalContentStore(root),
    ingestDir: path.join(root, 'ingest'),
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
});
