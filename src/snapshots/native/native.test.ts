import { snapshotterSuite } from '../testsuite.js';
import { newNativeSnapshotter } from './native.js';

snapshotterSuite('native', newNativeSnapshotter);
