import { randomInt } from 'node:crypto';
import { InvalidArgumentError } from '../errors/index.js';

// Words for generated container names, `adjective_noun` as Docker makes them. Our own lists.
const adjectives = [
  'amber',
  'brave',
  'calm',
  'clever',
  'crisp',
  'daring',
  'eager',
  'fancy',
  'gentle',
  'happy',
  'jolly',
  'keen',
  'lively',
  'lucid',
  'merry',
  'nimble',
  'noble',
  'proud',
  'quiet',
  'rapid',
  'serene',
  'sharp',
  'shiny',
  'silent',
  'steady',
  'sunny',
  'swift',
  'tender',
  'upbeat',
  'vivid',
  'warm',
  'wise',
  'witty',
  'young',
  'zealous',
  'bold',
  'cosmic',
  'dreamy',
  'frosty',
  'golden',
];
const nouns = [
  'anchor',
  'beacon',
  'breeze',
  'canal',
  'cove',
  'current',
  'delta',
  'dock',
  'ferry',
  'fjord',
  'galley',
  'harbor',
  'hull',
  'island',
  'jetty',
  'keel',
  'lagoon',
  'lighthouse',
  'mast',
  'mooring',
  'oar',
  'pier',
  'quay',
  'reef',
  'rudder',
  'sail',
  'schooner',
  'shoal',
  'skiff',
  'sloop',
  'strait',
  'tide',
  'voyage',
  'wake',
  'wharf',
  'yacht',
  'buoy',
  'capstan',
  'dinghy',
  'tugboat',
];

/** A random `adjective_noun`; after collisions the caller asks again with a numeric suffix. */
export function generateName(attempt = 0): string {
  const base = `${adjectives[randomInt(adjectives.length)]}_${nouns[randomInt(nouns.length)]}`;
  return attempt > 3 ? `${base}${randomInt(10)}` : base;
}

const validName = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Checks a user-given name, with or without its leading slash; returns it without. */
export function validateName(name: string): string {
  if (!validName.test(name)) {
    throw new InvalidArgumentError(
      `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
    );
  }
  return name.replace(/^\//, '');
}
