import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartVersionOf, isPending, lastGoodRevision, latest, parseHistory } from '../../src/helm/history.ts';
import { fixturesDir } from '../support/tools.ts';

const fixture = (f: string) => parseHistory(readFileSync(join(fixturesDir, f), 'utf8'));

describe('rollback target selection on recorded histories', () => {
  it('after a failed helm 4 upgrade: the deployed revision 1, not the failed "previous"', () => {
    const h = fixture('helm4-history-failed-upgrade.json');
    expect(latest(h)?.status).toBe('failed');
    expect(lastGoodRevision(h)?.revision).toBe(1);
  });
  it('after helm 3 --atomic: the rollback revision 3 is the good one', () => {
    expect(lastGoodRevision(fixture('helm3-history-after-atomic.json'))?.revision).toBe(3);
  });
  it('a killed upgrade is pending; the target is the deployed revision 2', () => {
    const h = fixture('helm4-history-pending-upgrade.json');
    expect(isPending(latest(h))).toBe(true);
    expect(lastGoodRevision(h)?.revision).toBe(2);
  });
  it('after SSA conflicts, two failed revisions sit on top of deployed revision 1', () => {
    expect(lastGoodRevision(fixture('helm4-history-ssa-conflict.json'))?.revision).toBe(1);
  });
  it('falls back to the newest superseded revision when no revision is deployed (a failed rollback)', () => {
    const h = parseHistory(
      JSON.stringify([
        { revision: 1, status: 'superseded', chart: 'c-1.0.0', app_version: '', updated: '', description: '' },
        { revision: 2, status: 'superseded', chart: 'c-1.1.0', app_version: '', updated: '', description: '' },
        { revision: 3, status: 'failed', chart: 'c-1.2.0', app_version: '', updated: '', description: '' },
        { revision: 4, status: 'failed', chart: 'c-1.1.0', app_version: '', updated: '', description: 'Rollback to 2' },
      ]),
    );
    expect(lastGoodRevision(h)?.revision).toBe(2);
  });
  it('has no target when the release never deployed', () => {
    expect(
      lastGoodRevision(parseHistory('[{"revision":1,"status":"failed","chart":"c-1.0.0","app_version":"","updated":"","description":""}]')),
    ).toBeUndefined();
  });
  it('reads chart versions out of chart labels', () => {
    expect(chartVersionOf('demo-0.1.0')).toBe('0.1.0');
    expect(chartVersionOf('isp-ops-tenant-1.3.0-rc.1')).toBe('1.3.0-rc.1');
  });
});
