import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'site/**/build/**', '.test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The error catalogue is the only place codes are made (docs/architecture.md, "One line per
    // failure"): site/docs/errors.md is generated from it, so a code made elsewhere would be missing there.
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/core/src/errors.ts'],
    rules: {
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='PrevuError']", message: 'make errors with a factory of `errors` in packages/core/src/errors.ts (the catalogue)' },
        { selector: "CallExpression[callee.name='define']", message: 'define error factories in packages/core/src/errors.ts (the catalogue)' },
        { selector: "Property[key.name='code'] > Literal.value[value=/^PREVU_[A-Z_]+$/]", message: 'take the code from the catalogue: errors.<name>.code' },
        { selector: "BinaryExpression > Literal[value=/^PREVU_[A-Z_]+$/]", message: 'compare codes with isError(error, errors.<name>) from packages/core/src/errors.ts' },
        { selector: "SwitchCase > Literal.test[value=/^PREVU_[A-Z_]+$/]", message: 'compare codes with isError(error, errors.<name>) from packages/core/src/errors.ts' },
      ],
    },
  },
);
