/** tenant-rollout's GitHub inputs: validated before anything is deployed, the closest name on a typo. */
import { describe, expect, it } from 'vitest';
import { Inputs } from '../../src/actions/common/inputs.ts';
import { openObservers, parseObserverInputs } from '../../src/actions/tenant-rollout/observers.ts';
import { systemClock } from '../../src/core/clock.ts';
import { fetchHttp } from '../../src/core/http.ts';
import { RecordingLogger } from '../support/logger.ts';

const parse = (values: Record<string, string>, masked: string[] = []) =>
  parseObserverInputs(
    new Inputs(
      (n) => values[n] ?? '',
      (v) => masked.push(v),
    ),
  );

describe('GitHub inputs of tenant-rollout', () => {
  it('defaults: no records, no check, no webhooks; the token is masked', () => {
    const masked: string[] = [];
    const o = parse({ 'github-token': 'ghs_abcdefgh' }, masked);
    expect(o).toMatchObject({ records: 'none', recordsShare: 0.5, approvalEnvironment: '', targets: [], gate: '' });
    expect(masked).toContain('ghs_abcdefgh');
  });

  it.each([
    [
      { 'deployment-records': 'tenants' },
      'input "deployment-records": is not a record mode, got "tenants" (did you mean "tenant"? use one of: none, wave, tenant)',
    ],
    [
      { 'deployment-records': 'per-wave' },
      'input "deployment-records": is not a record mode, got "per-wave" (use one of: none, wave, tenant)',
    ],
    [{ gate: 'aproval' }, 'input "gate": is not a gate, got "aproval" (did you mean "approval"?'],
    [{ 'deployment-records-budget': '150%' }, 'input "deployment-records-budget": is not a percentage from 1% to 100%, got "150%"'],
    [{ notify: 'json https://hooks.example.com/x' }, 'input "notify-signing-key": is required by the json webhooks in "notify"'],
  ])('%j is refused', (values, message) => {
    expect(() => parse(values)).toThrow(message);
  });

  it('records need the repository and the commit: outside a runner the error says what to set', () => {
    const o = parse({ 'deployment-records': 'wave', 'github-token': 'ghs_abcdefgh' });
    const ports = { clock: systemClock, logger: new RecordingLogger(), http: fetchHttp };
    expect(() => openObservers(o, {}, ports, { phase: 'all', version: '1.0.0' })).toThrow(
      /GITHUB_REPOSITORY is not set.*set GITHUB_REPOSITORY=owner\/repo/,
    );
    expect(() => openObservers(o, { GITHUB_REPOSITORY: 'a/b' }, ports, { phase: 'all', version: '1.0.0' })).toThrow(
      /GITHUB_SHA is not set/,
    );
    expect(() =>
      openObservers({ ...o, githubToken: '' }, { GITHUB_REPOSITORY: 'a/b', GITHUB_SHA: 'abc' }, ports, { phase: 'all', version: '1' }),
    ).toThrow(/input "github-token": is empty/);
  });
});
