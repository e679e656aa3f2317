/** Which live fleet locks a run may take over: only the provably left-over ones (operations.ts supersedesLock). */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { supersedesLock } from '../../src/actions/tenant-rollout/operations.ts';
import type { LockRecord } from '../../src/fleet/state.ts';

const lock = (holder: string, members?: string[]): LockRecord => ({
  holder,
  ...(members ? { members } : {}),
  operation: 'rollout',
  at: '2026-12-07T10:00:00.000Z',
  expiresAt: '2026-12-07T10:10:00.000Z',
});
const runner = (attempt: number) => ({ GITHUB_RUN_ID: '4242', GITHUB_RUN_ATTEMPT: String(attempt), GITHUB_REPOSITORY: 'acme/fleet' });
const here = hostname();

describe('supersedesLock', () => {
  it.each([
    ['an earlier attempt of this run', runner(2), lock('run=acme/fleet/4242/1'), true],
    ['a much earlier attempt', runner(5), lock('run=acme/fleet/4242/3'), true],
    ['this attempt (the shards of it join, never take over)', runner(2), lock('run=acme/fleet/4242/2'), false],
    ['a later attempt (this one is the stale one)', runner(1), lock('run=acme/fleet/4242/2'), false],
    ['another run of the same repository', runner(2), lock('run=acme/fleet/4243/1'), false],
    ['the same run id in another repository', runner(2), lock('run=acme/other/4242/1'), false],
    ['a local run, from a runner', runner(2), lock('run=local alice@box pid 12', [`${here} pid 12`]), false],
  ] as const)('on a runner: %s -> %s', (_what, env, l, want) => {
    expect(supersedesLock(env, l, () => false)).toBe(want);
  });

  it('locally: only when every member is a process of this machine that is gone', () => {
    const dead = new Set([101, 102]);
    const alive = (pid: number) => !dead.has(pid);
    const env = {};
    expect(supersedesLock(env, lock('run=local alice@box pid 101', [`${here} pid 101`]), alive)).toBe(true);
    expect(supersedesLock(env, lock('run=local alice@box pid 101', [`${here} pid 101`, `${here} pid 102`]), alive)).toBe(true);
    // One member still runs, or runs elsewhere (its pid means nothing here), or is unknown: wait.
    expect(supersedesLock(env, lock('run=local alice@box pid 101', [`${here} pid 101`, `${here} pid 103`]), alive)).toBe(false);
    expect(supersedesLock(env, lock('run=local alice@box pid 101', [`${here}-other pid 101`]), alive)).toBe(false);
    expect(supersedesLock(env, lock('run=local alice@box pid 101'), alive)).toBe(false);
    // A runner's lock is never taken over from a terminal.
    expect(supersedesLock(env, lock('run=acme/fleet/4242/1', [`${here} pid 101`]), alive)).toBe(false);
  });

  it('the real process check: this process is alive, a pid that cannot exist is not', () => {
    const env = {};
    expect(supersedesLock(env, lock('run=local me pid', [`${here} pid ${process.pid}`]))).toBe(false);
    expect(supersedesLock(env, lock('run=local me pid', [`${here} pid 2147483646`]))).toBe(true);
  });
});
