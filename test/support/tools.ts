import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const helmBinaries = {
  3: join(repoRoot, '.tools/helm3/helm'),
  4: join(repoRoot, '.tools/helm4/helm'),
} as const;
export const kubectlBinary = join(repoRoot, '.tools/kubectl/kubectl');
export const exampleChart = join(repoRoot, 'examples/charts/tenant-app');
// Recorded from a real API server and real helm 3/4 (copied from the project's shared/kube-fixtures,
// so a clone of this repository alone runs the suite, e.g. on GitHub).
export const fixturesDir = join(repoRoot, 'test', 'fixtures', 'kube');
