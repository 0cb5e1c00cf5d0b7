import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as dnsPacket from 'dns-packet';
import { parseUpstream, ptrAddress, startDnsServer, type DnsNames } from './server.js';

// Every socket here is on 127.0.0.1: the upstream is a fake server this test starts.

type Reply = dnsPacket.DecodedPacket & { rcode?: string };

function dataOf(r: Reply | undefined): unknown {
  const a = r?.answers?.[0];
  return a && 'data' in a ? a.data : undefined;
}

let nextId = 1;
function query(name: string, type: dnsPacket.RecordType, extra: Partial<dnsPacket.Packet> = {}) {
  return dnsPacket.encode({
    type: 'query',
    id: nextId++,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    ...extra,
  });
}

function udpAsk(port: number, msg: Buffer, timeoutMs = 3000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error('no UDP reply'));
    }, timeoutMs);
    sock.on('message', (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(dnsPacket.decode(m) as Reply);
    });
    sock.send(msg, port, '127.0.0.1');
  });
}

function udpSilent(port: number, msg: Buffer, waitMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(true);
    }, waitMs);
    sock.on('message', () => {
      clearTimeout(timer);
      sock.close();
      resolve(false);
    });
    sock.send(msg, port, '127.0.0.1');
  });
}

function tcpAsk(port: number, msgs: Buffer[], count = msgs.length): Promise<Reply[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const out: Reply[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`only ${out.length} TCP replies`));
    }, 3000);
    sock.on('connect', () => {
      for (const m of msgs) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        sock.write(Buffer.concat([len, m]));
      }
    });
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        out.push(dnsPacket.decode(pending.subarray(2, 2 + len)) as Reply);
        pending = pending.subarray(2 + len);
      }
      if (out.length >= count) {
        clearTimeout(timer);
        sock.destroy();
        resolve(out);
      }
    });
    sock.on('error', reject);
  });
}

/** A fake upstream resolver on 127.0.0.1, UDP and TCP, whose answers depend on the name. */
async function fakeUpstream(
  behaviour: (name: string, proto: 'udp' | 'tcp') => 'silent' | dnsPacket.Packet,
): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const respond = (msg: Buffer, proto: 'udp' | 'tcp'): Buffer | undefined => {
    const q = dnsPacket.decode(msg);
    const name = q.questions?.[0]?.name ?? '';
    seen.push(`${proto}:${name}`);
    const b = behaviour(name, proto);
    if (b === 'silent') return undefined;
    return dnsPacket.encode({
      questions: q.questions ?? [],
      ...b,
      id: q.id ?? 0,
      type: 'response',
    });
  };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  udp.on('message', (m, rinfo) => {
    const out = respond(m, 'udp');
    if (out) udp.send(out, rinfo.port, rinfo.address);
  });
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let pending = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        const out = respond(pending.subarray(2, 2 + len), 'tcp');
        pending = pending.subarray(2 + len);
        if (out) {
          const l = Buffer.alloc(2);
          l.writeUInt16BE(out.length);
          s.write(Buffer.concat([l, out]));
        }
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  return {
    port,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((r) => udp.close(() => r())),
        new Promise<void>((r) => tcp.close(() => r())),
      ]);
    },
  };
}

const names: DnsNames = {
  resolve(client, name, type) {
    if (client !== '127.0.0.1') return undefined;
    const table: Record<string, { A: string[]; AAAA: string[] }> = {
      web: { A: ['172.30.0.2'], AAAA: [] },
      'web.mynet': { A: ['172.30.0.2'], AAAA: [] },
      db: { A: ['172.30.0.3'], AAAA: ['fd00::3'] },
      many: { A: Array.from({ length: 60 }, (_, i) => `10.1.0.${i + 1}`), AAAA: [] },
    };
    return table[name]?.[type];
  },
  reverse(_client, ip) {
    if (ip === '172.30.0.2') return 'web.mynet';
    if (ip === 'fd00::3') return 'db.mynet';
    return undefined;
  },
};

const big: dnsPacket.Packet = {
  answers: Array.from({ length: 80 }, (_, i) => ({
    type: 'A' as const,
    name: 'big.example',
    ttl: 30,
    data: `10.2.0.${i + 1}`,
  })),
};

describe('embedded DNS server', () => {
  let upA: Awaited<ReturnType<typeof fakeUpstream>>;
  let upB: Awaited<ReturnType<typeof fakeUpstream>>;
  let server: Awaited<ReturnType<typeof startDnsServer>>;
  let slowServer: Awaited<ReturnType<typeof startDnsServer>>;

  before(async () => {
    // A fails or stays silent for some names; B answers everything it is asked.
    upA = await fakeUpstream((name, proto) => {
      if (name === 'fail.example') return { flags: 2 };
      if (name === 'refused.example') return { flags: 5 };
      if (name === 'nx.example' || name === 'allnx.example') return { flags: 3 };
      if (name === 'authnx.example') return { flags: 3 | dnsPacket.AUTHORITATIVE_ANSWER };
      if (name === 'slow.example') return 'silent';
      if (name === 'big.example') {
        return proto === 'udp' ? { flags: dnsPacket.TRUNCATED_RESPONSE } : big;
      }
      return {
        flags: dnsPacket.RECURSION_AVAILABLE,
        answers: [{ type: 'A', name, ttl: 42, data: '192.0.2.1' }],
      };
    });
    upB = await fakeUpstream((name) => {
      if (name === 'slow.example' || name === 'allnx.example') {
        return name === 'slow.example' ? 'silent' : { flags: 3 };
      }
      return { answers: [{ type: 'A', name, ttl: 7, data: '192.0.2.2' }] };
    });
    server = await startDnsServer({
      address: '127.0.0.1',
      names,
      upstreams: () => [`127.0.0.1:${upA.port}`, `127.0.0.1:${upB.port}`],
      timeoutMs: 300,
    });
    slowServer = await startDnsServer({
      address: '127.0.0.1',
      names,
      upstreams: () => [`127.0.0.1:${upA.port}`],
      timeoutMs: 1500,
      maxConcurrent: 1,
    });
  });

  after(async () => {
    await server.close();
    await slowServer.close();
    await upA.close();
    await upB.close();
  });

  it('serves sockets made for it inside a namespace, each on its own port', async (t) => {
    // setns(2), even into one's own namespace, wants CAP_SYS_ADMIN.
    if (process.getuid?.() !== 0) {
      t.skip('needs root: the sockets are made by setns(2) into a network namespace');
      return;
    }
    const { native } = await import('../../util/native.js');
    const ns = '/proc/self/ns/net';
    const own = await startDnsServer({
      address: '127.0.0.1',
      fds: {
        udp: native().netnsSocket(ns, 'udp', '127.0.0.1', 0),
        tcp: native().netnsSocket(ns, 'tcp', '127.0.0.1', 0),
      },
      names,
      upstreams: () => [],
    });
    try {
      assert.ok(own.port > 0 && own.tcpPort > 0);
      assert.equal(dataOf(await udpAsk(own.port, query('web', 'A'))), '172.30.0.2');
      const [r] = await tcpAsk(own.tcpPort, [query('web', 'A')]);
      assert.equal(dataOf(r), '172.30.0.2');
    } finally {
      await own.close();
    }
    assert.throws(
      () => native().netnsSocket('/nonexistent', 'udp', '127.0.0.1', 0),
      (e: unknown) => (e as { code?: string }).code === 'ENOENT',
    );
  });

  it('listens on one port for UDP and TCP', async () => {
    assert.ok(server.port > 0);
    const [u] = [await udpAsk(server.port, query('web', 'A'))];
    const [t] = await tcpAsk(server.port, [query('web', 'A')]);
    assert.equal(dataOf(u), '172.30.0.2');
    assert.equal(dataOf(t), '172.30.0.2');
  });

  it('answers A for our names with TTL 600, case-insensitively, with or without a dot', async () => {
    for (const n of ['web', 'WEB', 'Web.', 'web.mynet', 'WEB.MyNet.']) {
      const r = await udpAsk(server.port, query(n, 'A'));
      assert.equal(r.rcode, 'NOERROR', n);
      assert.equal(r.flag_ra, true);
      assert.equal(r.flag_rd, true);
      assert.equal(r.answers?.length, 1, n);
      const a = r.answers?.[0];
      assert.equal(a?.type, 'A');
      assert.equal(a && 'ttl' in a ? a.ttl : 0, 600);
      assert.equal(a && 'data' in a ? a.data : undefined, '172.30.0.2');
    }
    assert.deepEqual(upA.seen, []);
  });

  it('answers AAAA, and NOERROR with no answers for a name without IPv6', async () => {
    const r = await udpAsk(server.port, query('db', 'AAAA'));
    assert.equal(dataOf(r), 'fd00::3');
    const none = await udpAsk(server.port, query('web', 'AAAA'));
    assert.equal(none.rcode, 'NOERROR');
    assert.deepEqual(none.answers, []);
    assert.equal(upA.seen.length, 0, 'an own name is never forwarded');
  });

  it('answers MX for our names with no records', async () => {
    const r = await udpAsk(server.port, query('web', 'MX'));
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers, []);
  });

  it('answers PTR for in-addr.arpa and ip6.arpa through reverse()', async () => {
    const v4 = await udpAsk(server.port, query('2.0.30.172.IN-ADDR.ARPA', 'PTR'));
    assert.equal(v4.answers?.[0]?.type, 'PTR');
    assert.equal(dataOf(v4), 'web.mynet');
    const nib = '3' + '.0'.repeat(29) + '.d.f';
    const v6 = await udpAsk(server.port, query(`${nib}.ip6.arpa`, 'PTR'));
    assert.equal(dataOf(v6), 'db.mynet');
    // Not ours: forwarded.
    const other = await udpAsk(server.port, query('9.9.9.9.in-addr.arpa', 'PTR'));
    assert.equal(dataOf(other), '192.0.2.1');
    assert.ok(upA.seen.includes('udp:9.9.9.9.in-addr.arpa'));
  });

  it('forwards other names and types, relaying the upstream reply', async () => {
    const r = await udpAsk(server.port, query('example.org', 'A'));
    assert.equal(r.rcode, 'NOERROR');
    const a = r.answers?.[0];
    assert.equal(a && 'data' in a ? a.data : undefined, '192.0.2.1');
    assert.equal(a && 'ttl' in a ? a.ttl : 0, 42, 'the upstream TTL is relayed');
    const txt = await udpAsk(server.port, query('web', 'TXT'));
    assert.equal(dataOf(txt), '192.0.2.1');
    assert.ok(upA.seen.includes('udp:web'), 'a type we do not answer goes upstream');
  });

  it('moves to the next upstream on SERVFAIL, REFUSED and non-authoritative NXDOMAIN', async () => {
    for (const n of ['fail.example', 'refused.example', 'nx.example']) {
      const r = await udpAsk(server.port, query(n, 'A'));
      assert.equal(r.rcode, 'NOERROR', n);
      assert.equal(dataOf(r), '192.0.2.2', n);
      assert.ok(upB.seen.includes(`udp:${n}`));
    }
    const auth = await udpAsk(server.port, query('authnx.example', 'A'));
    assert.equal(auth.rcode, 'NXDOMAIN');
    assert.ok(!upB.seen.includes('udp:authnx.example'), 'authoritative NXDOMAIN ends it');
    const all = await udpAsk(server.port, query('allnx.example', 'A'));
    assert.equal(all.rcode, 'NXDOMAIN', 'the last failure reply is relayed');
  });

  it('answers SERVFAIL when no upstream replies in time', async () => {
    const r = await udpAsk(server.port, query('slow.example', 'A'), 5000);
    assert.equal(r.rcode, 'SERVFAIL');
    assert.equal(r.questions?.[0]?.name, 'slow.example');
    const none = await startDnsServer({ address: '127.0.0.1', names, upstreams: () => [] });
    try {
      const n = await udpAsk(none.port, query('example.org', 'A'));
      assert.equal(n.rcode, 'SERVFAIL');
    } finally {
      await none.close();
    }
  });

  it('relays a truncated UDP reply, and the TCP retry gets the whole answer', async () => {
    const u = await udpAsk(server.port, query('big.example', 'A'));
    assert.equal(u.flag_tc, true);
    const [t] = await tcpAsk(server.port, [query('big.example', 'A')]);
    assert.equal(t?.flag_tc, false);
    assert.equal(t?.answers?.length, 80);
    assert.ok(upA.seen.includes('tcp:big.example'));
  });

  it('cuts its own answers to 512 bytes over UDP with TC, whole over TCP', async () => {
    const u = await udpAsk(server.port, query('many', 'A'));
    assert.equal(u.flag_tc, true);
    assert.ok((u.answers?.length ?? 0) < 60);
    const withEdns = await udpAsk(
      server.port,
      query('many', 'A', {
        additionals: [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 4096,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ],
      }),
    );
    assert.equal(withEdns.flag_tc, false);
    assert.equal(withEdns.answers?.length, 60);
    const [t] = await tcpAsk(server.port, [query('many', 'A')]);
    assert.equal(t?.answers?.length, 60);
  });

  it('answers several queries on one TCP connection', async () => {
    const replies = await tcpAsk(server.port, [query('web', 'A'), query('example.net', 'A')]);
    const data = replies.map((r) => dataOf(r)).sort();
    assert.deepEqual(data, ['172.30.0.2', '192.0.2.1']);
  });

  it('with ndots set, single-label names not ours are not forwarded', async () => {
    const nd = await startDnsServer({
      address: '127.0.0.1',
      names,
      upstreams: () => [`127.0.0.1:${upA.port}`],
      ndotsSet: () => true,
    });
    try {
      const single = await udpAsk(nd.port, query('printer', 'A'));
      assert.equal(single.rcode, 'NOERROR');
      assert.deepEqual(single.answers, []);
      assert.ok(!upA.seen.includes('udp:printer'));
      assert.equal(dataOf(await udpAsk(nd.port, query('web', 'A'))), '172.30.0.2');
      assert.equal(dataOf(await udpAsk(nd.port, query('printer.lan', 'A'))), '192.0.2.1');
    } finally {
      await nd.close();
    }
  });

  it('drops malformed packets and keeps serving', async () => {
    assert.equal(await udpSilent(server.port, Buffer.from('not dns'), 300), true);
    assert.equal(await udpSilent(server.port, Buffer.alloc(0), 200), true);
    const truncatedQuery = query('web', 'A').subarray(0, 15);
    assert.equal(await udpSilent(server.port, truncatedQuery, 200), true);
    const noQuestion = dnsPacket.encode({ type: 'query', id: 9, questions: [] });
    assert.equal(await udpSilent(server.port, noQuestion, 200), true);
    const response = dnsPacket.encode({ type: 'response', id: 9, questions: [] });
    assert.equal(await udpSilent(server.port, response, 200), true);
    // Garbage on TCP, then a real query on the same connection.
    const [t] = await tcpAsk(server.port, [Buffer.from('garbage!'), query('web', 'A')], 1);
    assert.equal(dataOf(t), '172.30.0.2');
    const r = await udpAsk(server.port, query('web', 'A'));
    assert.equal(dataOf(r), '172.30.0.2');
  });

  it('bounds forwarded queries in flight: past the bound, SERVFAIL at once', async () => {
    const first = udpAsk(slowServer.port, query('slow.example', 'A'), 5000);
    await new Promise((r) => setTimeout(r, 100));
    const second = await udpAsk(slowServer.port, query('example.com', 'A'), 1000);
    assert.equal(second.rcode, 'SERVFAIL');
    assert.equal((await first).rcode, 'SERVFAIL');
    const after = await udpAsk(slowServer.port, query('example.com', 'A'));
    assert.equal(after.rcode, 'NOERROR', 'the slot is free again');
  });
});

describe('ptrAddress', () => {
  it('decodes reverse names', () => {
    assert.equal(ptrAddress('4.3.2.1.in-addr.arpa'), '1.2.3.4');
    assert.equal(
      ptrAddress('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0' + '.0'.repeat(16) + '.ip6.arpa'),
      '::1',
    );
    assert.equal(ptrAddress('3.2.1.in-addr.arpa'), undefined);
    assert.equal(ptrAddress('256.3.2.1.in-addr.arpa'), undefined);
    assert.equal(ptrAddress('example.com'), undefined);
  });
});

describe('parseUpstream', () => {
  it('takes ip, ip:port and [ip6]:port', () => {
    assert.deepEqual(parseUpstream('8.8.8.8'), { host: '8.8.8.8', port: 53 });
    assert.deepEqual(parseUpstream('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
    assert.deepEqual(parseUpstream('2001:db8::1'), { host: '2001:db8::1', port: 53 });
    assert.deepEqual(parseUpstream('[2001:db8::1]:54'), { host: '2001:db8::1', port: 54 });
    assert.equal(parseUpstream('example.com'), undefined);
    assert.equal(parseUpstream('1.2.3.4:0'), undefined);
  });
});
