// ESLint (flat config) with typescript-eslint, run by `npm test` (scripts/lint.sh).
// Besides the recommended rules, the import boundaries of the design:
//  - a plugin imports only the plugin contract (src/core/plugin-api), never the host or another plugin;
//  - the contract imports nothing from the rest of bramble (it is published on its own);
//  - the domain (deciders, evolve) does no I/O: no file system, sockets, processes, crypto libraries or stores.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const DOMAIN_IO = [
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'net',
  'node:net',
  'dgram',
  'node:dgram',
  'http',
  'node:http',
  'https',
  'node:https',
  'child_process',
  'node:child_process',
  'worker_threads',
  'node:worker_threads',
  'os',
  'node:os',
  '@node-rs/bcrypt',
  'better-sqlite3',
  '@kurrent/kurrentdb-client',
  'koffi',
];

export default tseslint.config(
  { ignores: ['dist/**', 'packages/*/dist/**', 'node_modules/**', 'data/**', '**/*.js', '!eslint.config.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A forgotten promise in a socket callback is an unhandled rejection: the process dies.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner awaits itself.
          allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] }],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // Tests and benchmarks assert and print; `any` in GraphQL answers is what a client sees.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      'no-console': 'off',
    },
  },
  {
    files: ['src/plugins/**/*.ts'],
    ignores: ['src/plugins/built-in-plugins.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./\\.\\./core/(?!plugin-api(/|$))',
              message: 'A plugin imports only the plugin contract (src/core/plugin-api).',
            },
            { regex: '^\\.\\./(?!\\.\\./core/plugin-api)[^./]', message: 'A plugin never imports another plugin.' },
            { regex: '^\\.\\./\\.\\./(?!core/plugin-api)', message: 'A plugin imports only the plugin contract (src/core/plugin-api).' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/core/plugin-api/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./',
              message: 'The plugin contract imports nothing from the rest of bramble: it is published on its own (@bramble/plugin).',
            },
          ],
          paths: DOMAIN_IO.map((name) => ({ name, message: 'The plugin contract has no dependencies but TypeBox.' })),
        },
      ],
    },
  },
  {
    files: ['src/core/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: DOMAIN_IO.map((name) => ({
            name,
            message: 'The domain does no I/O: put it behind a port (src/core/commands/ports.ts) used by the command side.',
          })),
          patterns: [
            { regex: '^@nestjs/', message: 'The domain has no framework imports.' },
            {
              regex: '/(commands|projections|plugin-host|event-store|graphql|adapters)(/|$)',
              message: 'The domain imports no host, command, projection or store code.',
            },
          ],
        },
      ],
    },
  },
);
