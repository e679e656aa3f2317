export * from './model.ts';
export * from './selector.ts';
export * from './template.ts';
export * from './sources.ts';
export * from './select.ts';
