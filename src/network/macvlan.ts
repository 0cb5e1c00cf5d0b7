import { ConflictError, InvalidArgumentError } from '../errors/index.js';

/**
 * The macvlan driver's options, pure: which parent link a network's endpoints hang from, in
 * which mode, and which link berth has to make for it (a dummy when no parent is given, a
 * VLAN sub-interface for `parent=<link>.<vlan-id>`). Checks and words follow dockerd's.
 */

export type MacvlanMode = 'bridge' | 'private' | 'vepa' | 'passthru';

export const macvlanOpt = { parent: 'parent', mode: 'macvlan_mode' } as const;

/** A link berth makes for a network (and deletes with it), as dockerd's CreatedSlaveLink. */
export type CreatedParent =
  { kind: 'dummy'; name: string } | { kind: 'vlan'; name: string; link: string; vlanId: number };

export interface MacvlanPlan {
  parent: string;
  mode: MacvlanMode;
  /** Set when the parent does not exist and berth is to make it. */
  create?: CreatedParent;
}

const modes: readonly MacvlanMode[] = ['bridge', 'private', 'vepa', 'passthru'];

/** dockerd's name of the dummy parent of a network made without `-o parent`. */
export function dummyParentName(networkId: string): string {
  return `dm-${networkId.slice(0, 12)}`;
}

/** The parent link of a macvlan network, from its options (the dummy when none is given). */
export function parentOf(n: { Id: string; Options: Record<string, string> }): string {
  return n.Options[macvlanOpt.parent] || dummyParentName(n.Id);
}

/** The mode of a macvlan network, from its options (bridge when none is given). */
export function modeOf(options: Record<string, string>): MacvlanMode {
  const m = options[macvlanOpt.mode] ?? '';
  return (modes as readonly string[]).includes(m) ? (m as MacvlanMode) : 'bridge';
}

/**
 * Validates a new macvlan network's options against the host's links and the other macvlan
 * networks, and says what berth must make. Throws InvalidArgumentError (bad option) or
 * ConflictError (the parent is another network's) with dockerd's message.
 */
export function macvlanPlan(input: {
  id: string;
  options: Record<string, string>;
  /** Whether a link of that name exists in the host's namespace. */
  linkExists: (name: string) => boolean;
  /** The other macvlan networks. */
  others: readonly { Id: string; Options: Record<string, string> }[];
}): MacvlanPlan {
  const { id, options } = input;
  const given = options[macvlanOpt.mode] ?? '';
  if (given !== '' && !(modes as readonly string[]).includes(given))
    throw new InvalidArgumentError(
      `requested macvlan mode '${given}' is not valid, 'bridge' mode is the macvlan driver default`,
    );
  const mode = modeOf(options);
  const parent = parentOf({ Id: id, Options: options });
  if (parent === 'lo')
    throw new InvalidArgumentError('loopback interface is not a valid macvlan parent link');
  if (!/^[a-zA-Z0-9_.@:-]{1,15}$/.test(parent))
    throw new InvalidArgumentError(`invalid parent interface name: ${parent}`);
  for (const o of input.others) {
    // dockerd names the other network by its would-be dummy link, not by its name.
    if (parentOf(o) === parent)
      throw new ConflictError(
        `network ${dummyParentName(o.Id)} is already using parent interface ${parent}`,
      );
  }
  if (input.linkExists(parent)) return { parent, mode };
  if (parent === dummyParentName(id))
    return { parent, mode, create: { kind: 'dummy', name: parent } };
  const vlan = parseVlanName(parent, input.linkExists);
  return { parent, mode, create: { kind: 'vlan', name: parent, ...vlan } };
}

/** `<link>.<vlan-id>`, with the link present on the host and the id in 1..4094. */
export function parseVlanName(
  name: string,
  linkExists: (name: string) => boolean,
): { link: string; vlanId: number } {
  if (!name.includes('.'))
    throw new InvalidArgumentError(
      `invalid subinterface vlan name ${name}, example formatting is eth0.10`,
    );
  const parts = name.split('.');
  if (parts.length !== 2)
    throw new InvalidArgumentError(
      `required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received ${name}`,
    );
  const [link = '', vid = ''] = parts;
  if (!/^[+-]?\d+$/.test(vid))
    throw new InvalidArgumentError(
      `unable to parse a valid vlan id from: ${vid} (ex. eth0.10 for vlan 10)`,
    );
  if (!linkExists(link))
    throw new InvalidArgumentError(`-o parent interface does was not found on the host: ${link}`);
  const vlanId = Number(vid);
  if (vlanId < 1 || vlanId > 4094)
    throw new InvalidArgumentError(`vlan id must be between 1-4094, received: ${vlanId}`);
  return { link, vlanId };
}
