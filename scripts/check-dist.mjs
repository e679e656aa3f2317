// dist/ must equal a clean rebuild. `git status --porcelain` (not `git diff`) also catches a new
// bundle that was never committed.
import { execFileSync } from 'node:child_process';
execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=all', '--', 'dist'], { encoding: 'utf8' });
if (status.trim()) {
  console.error(`dist/ differs from a clean rebuild; run "npm run build" and commit dist/:\n${status}`);
  process.exit(1);
}
console.log('dist/ matches a clean rebuild');
