import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileSum, hashList, sumHeader } from './context.js';

// Values from dockerd 20.10's classic builder (the anchor), for a context holding a.txt
// ("a\n", 0644) and d/x ("x\n", 0644) in d/ (0755), all root's.
const file = (name: string, data: string, mode: number): string =>
  fileSum(name, Buffer.from(data), mode);

describe('dockerd source hashes', () => {
  it('a file of the context: tarsum v1 of its header and content', () => {
    assert.equal(
      file('a.txt', 'a\n', 0o644),
      'a596f0888def06c3cad1442667ede22d419985a1c8a3155b838b650c4cf52ecc',
    );
  });
  it('a directory: its sums sorted; several sources: multi over theirs in order', () => {
    const d = sumHeader({
      name: 'd/',
      mode: 0o755,
      uid: 0,
      gid: 0,
      size: 0,
      typeflag: '5',
      linkname: '',
      uname: '',
      gname: '',
      devmajor: 0,
      devminor: 0,
    }).digest('hex');
    const x = file('d/x', 'x\n', 0o644);
    assert.equal(
      hashList('dir', [d, x].sort()),
      'dir:649c5e2d66cc69f4dedf115b0e9a088e65df0feaaa8b7780719ea57dabf2c9ca',
    );
    assert.equal(
      hashList('multi', [`file:${file('a.txt', 'a\n', 0o644)}`, `file:${x}`]),
      'multi:a0c347b415c3ba44d5324b7e7a53832093a4ea021d75c19c4ca81e8e8cd50f7f',
    );
  });
  it('a file of a stage: the mode has its type bits, the owner its host names', () => {
    const h = sumHeader({
      name: 'o/f',
      mode: 0o100644,
      uid: 0,
      gid: 0,
      size: 2,
      typeflag: '0',
      linkname: '',
      uname: 'root',
      gname: 'root',
      devmajor: 0,
      devminor: 0,
    });
    assert.equal(
      h.update('o\n').digest('hex'),
      '3b855d0196e0fe294054913501908b3242e94e3dc8071d6e2af52527cbfeb465',
    );
  });
});
