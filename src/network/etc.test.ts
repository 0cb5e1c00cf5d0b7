import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import { buildHosts, buildResolvConf, nameservers, resolveExtraHosts } from './etc.js';

// Expected texts are what the anchor dockerd (20.10.24) wrote into busybox containers on a
// host whose /etc/resolv.conf is `nameserver 10.255.255.53`.

const template =
  '127.0.0.1\tlocalhost\n' +
  '::1\tlocalhost ip6-localhost ip6-loopback\n' +
  'fe00::0\tip6-localnet\n' +
  'ff00::0\tip6-mcastprefix\n' +
  'ff02::1\tip6-allnodes\n' +
  'ff02::2\tip6-allrouters\n';

const hostRc = 'nameserver 10.255.255.53\n';

describe('buildHosts', () => {
  it('default bridge, no flags', () => {
    const out = buildHosts({
      hostname: '48c69702e794',
      addresses: ['172.17.0.2'],
      extraHosts: [],
      ipv6: true,
    });
    assert.equal(out, `${template}172.17.0.2\t48c69702e794\n`);
  });

  it('extra hosts in order, then the FQDN and short name', () => {
    const extra = resolveExtraHosts(
      ['foo:1.2.3.4', 'bar=5.6.7.8', 'gw:host-gateway', 'v6:::1'],
      '172.17.0.1',
    );
    const out = buildHosts({
      hostname: 'myhost',
      domainname: 'example.org',
      addresses: ['172.17.0.2'],
      extraHosts: extra,
      ipv6: true,
    });
    assert.equal(
      out,
      `${template}1.2.3.4\tfoo\n5.6.7.8\tbar\n172.17.0.1\tgw\n::1\tv6\n` +
        '172.17.0.2\tmyhost.example.org myhost\n',
    );
  });

  it('a dotted host name with a domain: the first label is the short name', () => {
    const out = buildHosts({
      hostname: 'myhost.sub',
      domainname: 'example.org',
      addresses: ['172.17.0.2'],
      extraHosts: [],
      ipv6: true,
    });
    assert.equal(out, `${template}172.17.0.2\tmyhost.sub.example.org myhost\n`);
  });

  it('network none: no line for the host name', () => {
    const out = buildHosts({
      hostname: 'myhost',
      domainname: 'example.org',
      addresses: [],
      extraHosts: ['foo:1.2.3.4'],
      ipv6: true,
    });
    assert.equal(out, `${template}1.2.3.4\tfoo\n`);
  });

  it('links after extra hosts; one line per address; IPv4 loopback only without IPv6', () => {
    const out = buildHosts({
      hostname: 'web',
      addresses: ['172.19.0.2', 'fd00::2'],
      extraHosts: ['foo:1.2.3.4'],
      links: [{ names: ['db', 'f00dcafe1234', 'mydb'], ip: '172.19.0.3' }],
      ipv6: false,
    });
    assert.equal(
      out,
      '127.0.0.1\tlocalhost\n1.2.3.4\tfoo\n172.19.0.3\tdb f00dcafe1234 mydb\n' +
        '172.19.0.2\tweb\nfd00::2\tweb\n',
    );
  });
});

describe('resolveExtraHosts', () => {
  it("rejects what dockerd rejects, with dockerd's words", () => {
    const bad: [string, string][] = [
      ['bad', 'bad format for add-host: "bad"'],
      [':1.2.3.4', 'bad format for add-host: ":1.2.3.4"'],
      ['foo:notanip', 'invalid IP address in add-host: "notanip"'],
      ['a:1.2.3.4:5', 'invalid IP address in add-host: "1.2.3.4:5"'],
    ];
    for (const [entry, message] of bad) {
      assert.throws(
        () => resolveExtraHosts([entry], '172.17.0.1'),
        (err: unknown) => err instanceof InvalidArgumentError && err.message === message,
        entry,
      );
    }
    assert.throws(() => resolveExtraHosts(['x:host-gateway'], ''), InvalidArgumentError);
  });

  it('keeps the address as written (dockerd trims only to validate)', () => {
    assert.deepEqual(resolveExtraHosts(['foo: 1.2.3.4'], ''), ['foo: 1.2.3.4']);
    assert.deepEqual(resolveExtraHosts(['v6:[::1]', 'v=::2'], ''), ['v6:::1', 'v:::2']);
  });
});

describe('buildResolvConf', () => {
  const base = { hostResolvConf: hostRc, dns: [], dnsSearch: [], dnsOptions: [], embedded: false };

  it('no flags: the host file', () => {
    assert.deepEqual(buildResolvConf(base), {
      content: hostRc,
      upstreams: ['10.255.255.53'],
    });
  });

  it('flags build a new file; --dns 127.0.0.1 is kept as given', () => {
    const r = buildResolvConf({
      ...base,
      dns: ['9.9.9.9', '127.0.0.1'],
      dnsSearch: ['example.com', 'b.org'],
      dnsOptions: ['ndots:3', 'rotate'],
    });
    assert.equal(
      r.content,
      'search example.com b.org\nnameserver 9.9.9.9\nnameserver 127.0.0.1\noptions ndots:3 rotate\n',
    );
    assert.deepEqual(r.upstreams, ['9.9.9.9', '127.0.0.1']);
  });

  it("a flag alone keeps the host's other settings; search . writes no search line", () => {
    assert.equal(
      buildResolvConf({ ...base, dnsOptions: ['rotate'] }).content,
      'nameserver 10.255.255.53\noptions rotate\n',
    );
    assert.equal(
      buildResolvConf({ ...base, dnsSearch: ['example.com'] }).content,
      'search example.com\nnameserver 10.255.255.53\n',
    );
    assert.equal(buildResolvConf({ ...base, dnsSearch: ['.'] }).content, hostRc);
  });

  it('host network: the host file as is, unless flags are given', () => {
    const odd = '# comment\nnameserver 127.0.0.53\noptions edns0\n';
    assert.equal(buildResolvConf({ ...base, hostResolvConf: odd, hostNetwork: true }).content, odd);
    assert.equal(
      buildResolvConf({
        ...base,
        hostNetwork: true,
        dns: ['9.9.9.9', '127.0.0.1'],
        dnsSearch: ['example.com'],
        dnsOptions: ['ndots:3'],
      }).content,
      'search example.com\nnameserver 9.9.9.9\nnameserver 127.0.0.1\noptions ndots:3\n',
    );
  });

  it('loopback nameservers of the host are dropped, Google DNS when none remain', () => {
    const rc = 'search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\noptions edns0\n';
    assert.equal(
      buildResolvConf({ ...base, hostResolvConf: rc }).content,
      'search lan\nnameserver 10.0.0.1\noptions edns0\n',
    );
    const only = buildResolvConf({ ...base, hostResolvConf: 'nameserver 127.0.0.53\n' });
    assert.equal(only.content, '\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n');
    assert.deepEqual(only.upstreams, ['127.0.0.53']);
    const v6 = buildResolvConf({
      ...base,
      hostResolvConf: 'nameserver ::1\nnameserver 2001:db8::53\n',
      ipv6: true,
    });
    assert.equal(v6.content, 'nameserver 2001:db8::53\n');
    const noV6 = buildResolvConf({ ...base, hostResolvConf: 'nameserver 2001:db8::53\n' });
    // Emptied only by the second (IPv6-off) pass: dockerd appends the fallback without a newline.
    assert.equal(noV6.content, '\nnameserver 8.8.8.8\nnameserver 8.8.4.4');
  });

  it('embedded: 127.0.0.11 and ndots:0 unless ndots is set', () => {
    const e = { ...base, embedded: true };
    assert.deepEqual(buildResolvConf(e), {
      content: 'nameserver 127.0.0.11\noptions ndots:0\n',
      upstreams: ['10.255.255.53'],
    });
    const flags = buildResolvConf({
      ...e,
      dns: ['9.9.9.9', '127.0.0.1'],
      dnsSearch: ['example.com'],
      dnsOptions: ['ndots:3', 'rotate'],
    });
    assert.equal(
      flags.content,
      'search example.com\nnameserver 127.0.0.11\noptions ndots:3 rotate\n',
    );
    assert.deepEqual(flags.upstreams, ['9.9.9.9', '127.0.0.1']);
    assert.equal(
      buildResolvConf({ ...e, dnsOptions: ['rotate', 'attempts:2'] }).content,
      'nameserver 127.0.0.11\noptions rotate attempts:2 ndots:0\n',
    );
    assert.equal(
      buildResolvConf({ ...e, dnsOptions: ['ndots:0'] }).content,
      'nameserver 127.0.0.11\noptions ndots:0\n',
    );
    assert.equal(
      buildResolvConf({ ...e, dnsOptions: ['ndots:1', 'ndots:2'] }).content,
      'nameserver 127.0.0.11\noptions ndots:1 ndots:2\n',
    );
    assert.equal(
      buildResolvConf({ ...e, dns: ['9.9.9.9'] }).content,
      'nameserver 127.0.0.11\noptions ndots:0\n',
    );
    assert.equal(
      buildResolvConf({ ...e, dnsSearch: ['example.com'] }).content,
      'search example.com\nnameserver 127.0.0.11\noptions ndots:0\n',
    );
  });

  it('embedded: IPv6 nameservers stay listed after 127.0.0.11', () => {
    const r = buildResolvConf({
      ...base,
      embedded: true,
      hostResolvConf: 'nameserver 10.0.0.1\nnameserver 2001:db8::53\n',
    });
    assert.equal(r.content, 'nameserver 127.0.0.11\nnameserver 2001:db8::53\noptions ndots:0\n');
    assert.deepEqual(r.upstreams, ['10.0.0.1']);
  });
});

describe('nameservers', () => {
  it('reads nameserver lines, skipping comments and junk', () => {
    const rc =
      '# nameserver 1.1.1.1\nnameserver 10.0.0.1 # lan\nnameserver bogus\n nameserver ::1\n';
    assert.deepEqual(nameservers(rc), ['10.0.0.1', '::1']);
    assert.deepEqual(nameservers(rc, 'ipv4'), ['10.0.0.1']);
  });
});
