import type { ActionModule } from './common/context.ts';
import { runOnGitHub } from './common/github.ts';
import { autoRollback } from './auto-rollback/main.ts';
import { buildImages } from './build-images/main.ts';
import { helmDeploy } from './helm-deploy/main.ts';
import { root } from './root/main.ts';
import { smokeTest } from './smoke-test/main.ts';
import { tenantRollout } from './tenant-rollout/main.ts';

/**
 * The one shared bundle's table of actions. Each `dist/<action>/index.js` stub calls `run` with
 * its own name. Imports are static on purpose: ncc minifies only its entry file, not the chunks
 * dynamic imports would create (19 MB of unminified client-node), and V8 compiles functions
 * lazily, so one minified bundle starts fast.
 */
const actions: Record<string, ActionModule> = {
  'helm-deploy': helmDeploy,
  'tenant-rollout': tenantRollout,
  'build-images': buildImages,
  'smoke-test': smokeTest,
  'auto-rollback': autoRollback,
  // The root action.yml (uses: dotmac/deploy-actions@v1), run from dist/root.
  root,
};

export async function loadAction(name: string): Promise<ActionModule> {
  const mod = Object.hasOwn(actions, name) ? actions[name] : undefined;
  if (!mod) throw new Error(`unknown action "${name}"`);
  return mod;
}

export async function run(name: string, phase: 'main' | 'post' = 'main'): Promise<void> {
  await runOnGitHub(await loadAction(name), phase);
}
