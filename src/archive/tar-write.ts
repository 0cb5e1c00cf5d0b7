/**
 * Tar headers, written here rather than by tar-stream's packer because its PAX encoding takes
 * strings (UTF-8) and so cannot carry binary extended attributes such as security.capability.
 */

export type EntryType =
  'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as SCHILY.xattr.* PAX records. */
  xattrs?: Map<string, Buffer>;
}

const typeflags: Record<EntryType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

/** The two zero blocks that end an archive. */
export const endOfArchive = Buffer.alloc(1024);

/** Zero bytes that pad `size` bytes of entry data to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

/** The header blocks of one entry: a PAX extended header when needed, then the ustar header. */
export function encodeHeader(h: TarHeader): Buffer {
  const name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  const records: Buffer[] = [];
  const split = splitName(name);
  if (!split) records.push(paxRecord('path', Buffer.from(name)));
  const link = h.linkname ?? '';
  if (!isAscii(link) || link.length > 100) records.push(paxRecord('linkpath', Buffer.from(link)));
  const maxOctal7 = 0o7777777;
  if (h.uid > maxOctal7) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > maxOctal7) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  if (h.size > 0o77777777777) records.push(paxRecord('size', Buffer.from(String(h.size))));
  for (const [k, v] of h.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${k}`, v));

  const ustar = block({
    name: split?.name ?? stub(name),
    prefix: split?.prefix ?? '',
    mode: h.mode & 0o7777,
    uid: Math.min(h.uid, maxOctal7),
    gid: Math.min(h.gid, maxOctal7),
    size: h.size > 0o77777777777 ? 0 : h.size,
    mtime: Math.max(0, Math.floor(h.mtime.getTime() / 1000)),
    typeflag: typeflags[h.type],
    linkname: isAscii(link) && link.length <= 100 ? link : stub(link),
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (records.length === 0) return ustar;
  const body = Buffer.concat(records);
  const pax = block({
    name: stub(`PaxHeaders/${baseName(name)}`),
    prefix: '',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: Math.max(0, Math.floor(h.mtime.getTime() / 1000)),
    typeflag: 'x',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([pax, body, padding(body.length), ustar]);
}

function baseName(name: string): string {
  const trimmed = name.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** One PAX record, `<length> <key>=<value>\n`, the length counting itself. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = rest.length + String(rest.length).length;
  if (String(len).length > String(rest.length).length) len++;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) return false;
  }
  return true;
}

/** An ASCII stand-in of at most 100 bytes, for a field whose real value is in the PAX header. */
function stub(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(-100);
}

/** The name split into ustar's prefix (155) and name (100) fields, when it fits them. */
function splitName(name: string): { prefix: string; name: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
    if (i > 155) break;
    const rest = name.slice(i + 1);
    if (rest.length <= 100 && rest.length > 0) return { prefix: name.slice(0, i), name: rest };
  }
  return undefined;
}

interface Fields {
  name: string;
  prefix: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: string;
  devmajor: number;
  devminor: number;
}

function block(f: Fields): Buffer {
  const b = Buffer.alloc(512);
  const str = (off: number, len: number, s: string): void => {
    b.write(s.slice(0, len), off, len, 'latin1');
  };
  const oct = (off: number, len: number, n: number): void => {
    str(off, len - 1, n.toString(8).padStart(len - 1, '0'));
  };
  str(0, 100, f.name);
  oct(100, 8, f.mode);
  oct(108, 8, f.uid);
  oct(116, 8, f.gid);
  oct(124, 12, f.size);
  oct(136, 12, f.mtime);
  b.fill(0x20, 148, 156);
  str(156, 1, f.typeflag);
  str(157, 100, f.linkname);
  str(257, 6, 'ustar\0');
  str(263, 2, '00');
  oct(329, 8, f.devmajor);
  oct(337, 8, f.devminor);
  str(345, 155, f.prefix);
  let sum = 0;
  for (const byte of b) sum += byte;
  str(148, 7, `${sum.toString(8).padStart(6, '0')}\0`);
  return b;
}
