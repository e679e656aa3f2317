export * from './model.ts';
export * from './selector.ts';
export * from './sources.ts';
export * from './select.ts';
