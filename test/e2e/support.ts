import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { helmBinaries, kubectlBinary } from '../support/tools.ts';

/**
 * End-to-end tests run against a real cluster when E2E_KUBECONFIG names a kubeconfig file, and
 * are skipped otherwise. The image must answer HTTP on port 3000 for /api/health and /api/ready;
 * the default (hashicorp/http-echo) answers 200 on every path. Tag `bad` does not exist, so a
 * release with it never becomes ready.
 */
export const e2eKubeconfig = process.env.E2E_KUBECONFIG ?? '';
export const hasCluster = e2eKubeconfig !== '';
export const e2eImage = {
  repository: process.env.E2E_IMAGE_REPOSITORY ?? 'hashicorp/http-echo',
  tag: process.env.E2E_IMAGE_TAG ?? '1.0',
  args: (process.env.E2E_IMAGE_ARGS ?? '-listen=:3000,-text=ok').split(','),
};
export const e2eHelm = process.env.HELM_BIN ?? helmBinaries[Number(process.env.E2E_HELM_MAJOR ?? 4) as 3 | 4];

export function kubectl(...args: string[]): string {
  return execFileSync(process.env.KUBECTL_BIN ?? kubectlBinary, ['--kubeconfig', e2eKubeconfig, ...args], { encoding: 'utf8' });
}

export function kubeconfigContent(): string {
  return readFileSync(e2eKubeconfig, 'utf8');
}
