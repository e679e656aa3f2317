import { describe, expect, it } from 'vitest';
import { clusterTarget } from '../../src/core/cluster-target.ts';
import type { Revision } from '../../src/helm/history.ts';
import { decideColorReturn, decideReturn, returnToGood } from '../../src/helm/recover.ts';
import type { ColorReturnDecision, ColorSwitch, ReturnColor, ReturnDecision, ReturnRequest } from '../../src/helm/recover.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { FakeHelm } from '../support/fake-helm.ts';
import { RecordingLogger } from '../support/logger.ts';

// The one "return to a good state" policy (README: "Returning to a good state"), as a table:
// what was recorded before the run + what helm's history says now -> what is done.
const rows = (...statuses: string[]): Revision[] =>
  statuses.map((status, i) => ({ revision: i + 1, status, updated: '', chart: 'app-1.0.0', app_version: '1', description: '' }));

const table: [string, Revision[], Pick<ReturnRequest, 'before' | 'onlyIfBroken'>, ReturnDecision['action'], number?][] = [
  ['the release does not exist', rows(), { before: 2 }, 'absent'],
  ['recorded 2, the upgrade to 3 failed', rows('superseded', 'deployed', 'failed'), { before: 2 }, 'rollback', 2],
  ['recorded 2, revision 3 deployed but failed its checks', rows('superseded', 'superseded', 'deployed'), { before: 2 }, 'rollback', 2],
  ['recorded 2, revision 3 left pending by a kill', rows('superseded', 'deployed', 'pending-upgrade'), { before: 2 }, 'rollback', 2],
  ['recorded 2, already back on 2', rows('superseded', 'deployed'), { before: 2 }, 'none'],
  ['recorded 2, pruned from the history by max-history', rows('superseded', 'deployed'), { before: 9 }, 'refuse'],
  ['post step: the interrupted run did deploy', rows('superseded', 'deployed'), { before: 1, onlyIfBroken: true }, 'none'],
  ['post step: the interrupted run left it pending', rows('deployed', 'pending-upgrade'), { before: 1, onlyIfBroken: true }, 'rollback', 1],
  ['nothing recorded, a failed first install', rows('failed'), {}, 'uninstall'],
  ['nothing recorded, a pending first install', rows('pending-install'), {}, 'uninstall'],
  ['nothing recorded, a first install that failed its checks', rows('deployed'), {}, 'uninstall'],
  ['nothing recorded, failed installs only, then one deployed', rows('failed', 'failed', 'deployed'), {}, 'uninstall'],
  ['nothing recorded, an upgrade failed on top of deployed 2', rows('superseded', 'deployed', 'failed'), {}, 'rollback', 2],
  ['nothing recorded, stuck pending on top of deployed 2', rows('superseded', 'deployed', 'pending-rollback'), {}, 'rollback', 2],
  ['nothing recorded, a failed upgrade after a failed rollback', rows('superseded', 'failed', 'failed'), {}, 'rollback', 1],
  ['nothing recorded, deployed 2 on top of superseded 1: "previous" is a guess', rows('superseded', 'deployed'), {}, 'refuse', 1],
];

describe('decideReturn: the policy table', () => {
  it.each(table)('%s', (_name, history, req, action, to) => {
    const d = decideReturn(history, req);
    expect(d.action).toBe(action);
    if (to !== undefined) expect('to' in d && d.to).toBe(to);
  });
});

// The blue-green rows (README: the same table): live color + destination (explicit, else the one
// recorded with the last switch) + what that color's release is -> what is done.
const colorTable: [string, Parameters<typeof decideColorReturn>[0], ColorReturnDecision['action'], ReturnColor?][] = [
  ['the live Service has no color key', { destination: 'blue' }, 'refuse'],
  ['nothing recorded, nothing given: the other color would be a guess', { live: 'green' }, 'refuse'],
  ['the destination already serves (a second rollback)', { live: 'blue', destination: 'blue' }, 'none'],
  ['the destination was uninstalled', { live: 'green', destination: 'blue', problems: 'absent' }, 'refuse'],
  ['the destination does not serve', { live: 'green', destination: 'blue', problems: ['pod x: CrashLoopBackOff'] }, 'refuse'],
  ['the destination serves', { live: 'green', destination: 'blue', problems: [] }, 'switch', 'blue'],
];

describe('decideColorReturn: the blue-green rows of the policy table', () => {
  it.each(colorTable)('%s', (_name, facts, action, to) => {
    const d = decideColorReturn(facts);
    expect(d.action).toBe(action);
    if (to !== undefined) expect('to' in d && d.to).toBe(to);
  });
});

describe('returnToGood, blue-green form', () => {
  function colors(live: ReturnColor | undefined, recorded: ReturnColor | undefined, problems: 'absent' | string[] = []) {
    const state = { live, switches: [] as string[] };
    const c: ColorSwitch = {
      service: 'ns/app',
      switchCommand: (to) => `switch ${to}`,
      read: async () => ({ live: state.live, recorded }),
      problems: async () => problems,
      switchTo: async (from, to) => {
        state.switches.push(`${from}->${to}`);
        state.live = to;
      },
    };
    return { c, state };
  }
  const req = (c: ColorSwitch, to?: ReturnColor) => ({ release: 'app', namespace: 'ns', colors: c, to, why: 'breach' });

  it('goes to the recorded color, then finds it live and does nothing', async () => {
    const { c, state } = colors('green', 'blue');
    expect(await returnToGood(undefined, req(c), new RecordingLogger())).toEqual({ action: 'switched', from: 'green', live: 'blue' });
    expect(await returnToGood(undefined, req(c), new RecordingLogger())).toEqual({ action: 'none', live: 'blue' });
    expect(state.switches).toEqual(['green->blue']);
  });

  it('an explicit color wins over the record', async () => {
    const { c, state } = colors('green', 'blue');
    expect(await returnToGood(undefined, req(c, 'green'), new RecordingLogger())).toEqual({ action: 'none', live: 'green' });
    expect(state.switches).toEqual([]);
  });

  it('a destination that does not serve is refused with the command, nothing switched', async () => {
    const { c, state } = colors('green', 'blue', ['pod x: not ready']);
    const logger = new RecordingLogger();
    expect(await returnToGood(undefined, req(c), logger)).toMatchObject({
      action: 'refused',
      subject: 'release ns/app-blue',
      command: 'switch blue',
      live: 'green',
    });
    expect(state.switches).toEqual([]);
    expect(logger.text()).toContain('is not fit to serve: pod x: not ready; the selector stays on green');
  });

  it('a failed switch is `failed` with the command, never thrown', async () => {
    const { c } = colors('green', 'blue');
    c.switchTo = async () => {
      throw new Error('Forbidden');
    };
    expect(await returnToGood(undefined, req(c), new RecordingLogger())).toMatchObject({
      action: 'failed',
      error: 'Forbidden',
      command: 'switch blue',
    });
  });
});

describe('returnToGood', () => {
  const req = (o: Partial<ReturnRequest> = {}): ReturnRequest => ({
    namespace: 'tenant-a',
    release: 'a',
    why: 'a metric breached',
    wait: 'ready',
    timeoutMs: 60_000,
    ...o,
  });

  it('uninstalls what a failed first install left, and says why', async () => {
    const helm = new FakeHelm();
    helm.seed('tenant-a', 'a', [{ status: 'failed' }]);
    const logger = new RecordingLogger();
    expect(await returnToGood(helm, req(), logger)).toEqual({ action: 'uninstalled', revision: 0 });
    expect(helm.calls).toEqual(['history tenant-a/a', 'uninstall tenant-a/a']);
    expect(logger.text()).toContain('tenant-a/a: a metric breached; the release was never deployed before, uninstalling it');
  });

  it('rolls back to the recorded revision and reports the one now live', async () => {
    const helm = new FakeHelm(clusterTarget({ context: 'prod' }));
    helm.seed('tenant-a', 'a', [{ status: 'superseded' }, { status: 'deployed', content: 'good' }, { status: 'failed' }]);
    expect(await returnToGood(helm, req({ before: 2 }), new RecordingLogger())).toEqual({
      action: 'rolled-back',
      to: 2,
      revision: 4,
    });
    expect(helm.calls).toContain('rollback tenant-a/a 2 wait=ready ctx=prod timeout=60000');
    expect(helm.releases.get('tenant-a/a')!.at(-1)).toMatchObject({ status: 'deployed', content: 'good' });
  });

  it('refuses to guess "previous" and names the command a person would run; nothing is touched', async () => {
    const helm = new FakeHelm(clusterTarget({ context: 'prod' }));
    helm.seed('tenant-a', 'a', [{ status: 'superseded' }, { status: 'deployed' }]);
    const out = await returnToGood(helm, req(), new RecordingLogger());
    expect(out).toMatchObject({ action: 'refused', command: 'helm rollback a 1 -n tenant-a --kube-context prod', revision: 2 });
    expect(helm.calls).toEqual(['history tenant-a/a']);
  });

  it('a history that cannot be read is `unknown`, with the command to look (retried first)', async () => {
    const helm = new FakeHelm();
    helm.seed('tenant-a', 'a', [{ status: 'deployed' }, { status: 'failed' }]);
    helm.failHistoryTimes = 10;
    const out = await returnToGood(helm, req({ before: 1 }), new RecordingLogger(), { clock: new FakeClock() });
    expect(out).toMatchObject({ action: 'unknown', command: 'helm history a -n tenant-a' });
    expect(helm.calls.filter((c) => c.startsWith('history'))).toHaveLength(4);
    expect(helm.calls.some((c) => c.startsWith('rollback'))).toBe(false);
  });

  it('a rollback that keeps failing is `failed` with helm`s error and the command, never thrown', async () => {
    const helm = new FakeHelm();
    helm.seed('tenant-a', 'a', [{ status: 'deployed' }, { status: 'failed' }]);
    helm.failRollback = true;
    const out = await returnToGood(helm, req({ before: 1 }), new RecordingLogger(), { clock: new FakeClock() });
    expect(out).toEqual({
      action: 'failed',
      error: 'rollback failed: timed out waiting for the condition',
      command: 'helm rollback a 1 -n tenant-a',
      revision: 2,
    });
    // A return outlasts an upgrade's budget (HELM_RETRY.returnAttempts); its second half does not wait for readiness.
    const calls = helm.calls.filter((c) => c.startsWith('rollback'));
    expect(calls).toEqual([...Array(5).fill('rollback tenant-a/a 1 wait=ready'), ...Array(5).fill('rollback tenant-a/a 1 wait=none')]);
  });

  it('a rollback that fails 9 times (1 API request in 7 failing, helm --wait included) still ends rolled back', async () => {
    const helm = new FakeHelm();
    helm.seed('tenant-a', 'a', [{ status: 'deployed' }, { status: 'failed' }]);
    helm.failRollbackTimes = 9;
    const out = await returnToGood(helm, req({ before: 1 }), new RecordingLogger(), { clock: new FakeClock() });
    expect(out).toEqual({ action: 'rolled-back', to: 1, revision: 3 });
  });

  it('the live revision after a rollback comes from a re-read, never a guess (0 when it cannot be read)', async () => {
    const helm = new FakeHelm();
    helm.seed('tenant-a', 'a', [{ status: 'deployed' }, { status: 'failed' }]);
    const rollback = helm.rollback.bind(helm);
    helm.rollback = async (...a) => {
      await rollback(...a);
      helm.failHistoryTimes = 100;
    };
    const out = await returnToGood(helm, req({ before: 1 }), new RecordingLogger(), { clock: new FakeClock() });
    expect(out).toEqual({ action: 'rolled-back', to: 1, revision: 0 });
  });

  it('nothing recorded: a failed upgrade that a failed rollback marked superseded is not a target', () => {
    const rev = (revision: number, status: string, description: string): Revision => ({
      revision,
      status,
      description,
      updated: '',
      chart: 'app-1.0.0',
      app_version: '1',
    });
    const h = [
      rev(1, 'superseded', 'Install complete'),
      rev(2, 'superseded', 'deploy-actions target=abc'),
      rev(3, 'superseded', 'Upgrade "a" failed: the server is currently unable to handle the request'),
      rev(4, 'pending-rollback', 'Preparing rollback'),
    ];
    expect(decideReturn(h, {})).toEqual({ action: 'rollback', to: 2 });
    // Only failed ones before it: nothing ever ran, so uninstalling is the good state.
    expect(decideReturn([rev(1, 'superseded', 'Release "a" failed: boom'), rev(2, 'failed', 'Rollback "a" failed: boom')], {})).toEqual({
      action: 'uninstall',
    });
  });
});
