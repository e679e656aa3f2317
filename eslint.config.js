import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'node_modules/', '.tools/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // The domain never talks to the runner directly: only src/actions/common/github.ts may.
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@actions/core',
              message: 'Only src/actions/common/github.ts imports @actions/core; take a Logger/ActionContext instead.',
            },
          ],
        },
      ],
    },
  },
  { files: ['src/actions/common/github.ts'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['scripts/**/*.mjs', 'examples/**/*.js'], languageOptions: { globals: { console: 'readonly', process: 'readonly' } } },
);
