import type { ActionModule } from './common/context.ts';

/**
 * The one shared bundle's table of actions. Each `dist/<action>/index.js` stub calls `run` with
 * its own name; modules load lazily so an action pays start-up only for the code it uses.
 */
const actions: Record<string, () => Promise<ActionModule>> = {
  'helm-deploy': async () => (await import('./helm-deploy/main.ts')).helmDeploy,
  'tenant-rollout': async () => (await import('./tenant-rollout/main.ts')).tenantRollout,
  'build-images': async () => (await import('./build-images/main.ts')).buildImages,
  'smoke-test': async () => (await import('./smoke-test/main.ts')).smokeTest,
  'auto-rollback': async () => (await import('./auto-rollback/main.ts')).autoRollback,
};

export async function loadAction(name: string): Promise<ActionModule> {
  const load = Object.hasOwn(actions, name) ? actions[name] : undefined;
  if (!load) throw new Error(`unknown action "${name}"`);
  return load();
}

export async function run(name: string, phase: 'main' | 'post' = 'main'): Promise<void> {
  const mod = await loadAction(name);
  const { runOnGitHub } = await import('./common/github.ts');
  await runOnGitHub(mod, phase);
}
