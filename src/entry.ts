// The shared bundle's entry: the action dispatcher and the operator CLI.
export { run } from './actions/index.ts';
export { cli } from './cli/main.ts';
