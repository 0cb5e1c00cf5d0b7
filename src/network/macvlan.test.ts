import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConflictError, InvalidArgumentError } from '../errors/index.js';
import { dummyParentName, macvlanPlan, modeOf, parentOf, parseVlanName } from './macvlan.js';

const id = 'a'.repeat(12) + 'b'.repeat(52);
const host = new Set(['eth0', 'eth1', 'eth0.20']);
const plan = (
  options: Record<string, string>,
  others: { Id: string; Options: Record<string, string> }[] = [],
): ReturnType<typeof macvlanPlan> =>
  macvlanPlan({ id, options, linkExists: (n) => host.has(n), others });

test('macvlan: an existing parent is used as it is, bridge mode by default', () => {
  assert.deepEqual(plan({ parent: 'eth0' }), { parent: 'eth0', mode: 'bridge' });
  assert.deepEqual(plan({ parent: 'eth0', macvlan_mode: 'vepa' }), {
    parent: 'eth0',
    mode: 'vepa',
  });
  // An existing VLAN sub-interface is the user's: berth makes (and later deletes) nothing.
  assert.deepEqual(plan({ parent: 'eth0.20' }), { parent: 'eth0.20', mode: 'bridge' });
  assert.equal(modeOf({ macvlan_mode: 'passthru' }), 'passthru');
  assert.equal(modeOf({}), 'bridge');
});

test('macvlan: no parent makes the dummy dm-<short id>; a missing <link>.<vid> a VLAN', () => {
  assert.equal(dummyParentName(id), `dm-${'a'.repeat(12)}`);
  assert.deepEqual(plan({}), {
    parent: `dm-${'a'.repeat(12)}`,
    mode: 'bridge',
    create: { kind: 'dummy', name: `dm-${'a'.repeat(12)}` },
  });
  assert.deepEqual(plan({ parent: 'eth1.10', macvlan_mode: 'private' }), {
    parent: 'eth1.10',
    mode: 'private',
    create: { kind: 'vlan', name: 'eth1.10', link: 'eth1', vlanId: 10 },
  });
  assert.equal(parentOf({ Id: id, Options: {} }), `dm-${'a'.repeat(12)}`);
  assert.equal(parentOf({ Id: id, Options: { parent: 'eth0' } }), 'eth0');
});

test("macvlan: bad options in dockerd's words", () => {
  const cases: [Record<string, string>, string][] = [
    [
      { macvlan_mode: 'x' },
      "requested macvlan mode 'x' is not valid, 'bridge' mode is the macvlan driver default",
    ],
    [{ parent: 'lo' }, 'loopback interface is not a valid macvlan parent link'],
    [{ parent: 'nope0' }, 'invalid subinterface vlan name nope0, example formatting is eth0.10'],
    [{ parent: 'nope0.5' }, '-o parent interface does was not found on the host: nope0'],
    [{ parent: 'eth0.5000' }, 'vlan id must be between 1-4094, received: 5000'],
    [{ parent: 'eth0.0' }, 'vlan id must be between 1-4094, received: 0'],
    [{ parent: 'eth0.x' }, 'unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)'],
    [
      { parent: 'eth0.1.2' },
      'required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received eth0.1.2',
    ],
  ];
  for (const [options, message] of cases)
    assert.throws(
      () => plan(options),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError, String(e));
        assert.equal(e.message, message);
        return true;
      },
    );
});

test("macvlan: a parent is one network's; dockerd names the other by its dummy name", () => {
  const other = { Id: 'c'.repeat(64), Options: { parent: 'eth0' } };
  assert.throws(
    () => plan({ parent: 'eth0' }, [other]),
    (e: unknown) =>
      e instanceof ConflictError &&
      e.message === `network dm-${'c'.repeat(12)} is already using parent interface eth0`,
  );
  // The mode check comes first, as in dockerd.
  assert.throws(() => plan({ parent: 'eth0', macvlan_mode: 'x' }, [other]), InvalidArgumentError);
  assert.deepEqual(plan({ parent: 'eth1' }, [other]).parent, 'eth1');
  assert.deepEqual(
    parseVlanName('eth0.4094', (n) => host.has(n)),
    { link: 'eth0', vlanId: 4094 },
  );
});
