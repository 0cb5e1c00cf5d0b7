// Lint rules, including the one that keeps the layers of DESIGN.md pointing one way:
// the client side (cli, compose, client) never imports the engine, and lower layers never
// import higher ones.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const engine = [
  'api',
  'daemon',
  'containers',
  'images',
  'runtime',
  'snapshots',
  'content',
  'mount',
  'archive',
  'events',
  'network',
  'volumes',
  'build',
  'registry',
  'system',
];
const clientSide = ['cli', 'compose', 'client'];

/** @param {string[]} folders */
const forbid = (folders) =>
  folders.flatMap((f) => [`../${f}/*`, `../../${f}/*`, `../${f}`, `../../${f}`]);

/** @param {string} folder @param {string[]} banned */
const layer = (folder, banned) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: forbid(banned),
            message: `src/${folder} may not import this layer (see DESIGN.md, Layers).`,
          },
        ],
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'build/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  ...clientSide.map((f) => layer(f, engine)),
  layer('errors', [...engine, ...clientSide, 'util', 'spec']),
  layer('util', [...engine, ...clientSide]),
  layer('spec', [...engine, ...clientSide, 'util']),
  layer('content', [
    'api',
    'daemon',
    'containers',
    'images',
    'runtime',
    'snapshots',
    ...clientSide,
  ]),
  layer('snapshots', ['api', 'daemon', 'containers', 'images', 'runtime', ...clientSide]),
  layer('mount', [
    'api',
    'daemon',
    'containers',
    'images',
    'runtime',
    'snapshots',
    'content',
    ...clientSide,
  ]),
  layer('archive', ['api', 'daemon', 'containers', 'images', 'runtime', ...clientSide]),
  layer('runtime', ['api', 'daemon', 'containers', 'images', ...clientSide]),
  layer('images', ['api', 'daemon', 'containers', ...clientSide]),
  layer('containers', ['api', 'daemon', ...clientSide]),
  layer('api', ['daemon', ...clientSide]),
);
