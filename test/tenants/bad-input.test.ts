import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.ts';
import { parseBatchSize, parsePilot, parsePlan, planRollout, serializePlan } from '../../src/rollout/plan.ts';
import { parseSelection, selectTenants } from '../../src/tenants/select.ts';
import { parseTenantsFile, tenantsFromList, tenantsFromNamespaces } from '../../src/tenants/sources.ts';
import { tenant, thrown } from './helpers.ts';

/**
 * The bad-input table: each mistake gives one ConfigurationError whose message names
 * the input or file (and line) and the offending value. Nothing here touches a cluster; the
 * executor only ever receives a plan these functions produced.
 */
const fleet = ['alpha', 'beta', 'gamma', 'delta'].map((id) => tenant(id, { ring: id === 'alpha' ? 'pilot' : 'general' }));
const planWith = (pilot: string, batch = '2') => planRollout(fleet, { pilot: parsePilot(pilot), batchSize: parseBatchSize(batch) });

const cases: Array<[string, () => unknown, RegExp]> = [
  ['unknown pilot id', () => planWith('alpha,gamma,omega'), /^input "pilot": names unknown tenant "omega", got "alpha,gamma,omega"/],
  ['pilot ids not a tenant id', () => parsePilot('alpha,Beta'), /^input "pilot": has "Beta", which is not a tenant id/],
  ['pilot count above the fleet', () => planWith('5'), /^input "pilot": asks for 5 pilot tenants but only 4 are selected, got "5"/],
  ['negative pilot count', () => parsePilot('-1'), /^input "pilot": is a negative pilot count, got "-1"/],
  ['pilot selector matching nothing', () => planWith('ring=canary'), /^input "pilot": matches no selected tenant, got "ring=canary"/],
  [
    'empty selection',
    () => selectTenants(fleet, { include: parseSelection('include', 'eu-*') }),
    /^tenant selection: no tenant is left after include "eu-\*" \(out of 4\)/,
  ],
  [
    'include of an unknown exact id',
    () => selectTenants(fleet, { include: parseSelection('include', 'alpha,betta') }),
    /^input "include": names a tenant that does not exist, got "betta"/,
  ],
  ['batch size 0', () => parseBatchSize('0'), /^input "batch-size": has a wave size of 0, got "0"/],
  ['batch size 0%', () => parseBatchSize('0%'), /^input "batch-size": has a wave size of 0%, got "0%"/],
  ['batch size 150%', () => parseBatchSize('150%'), /^input "batch-size": has a wave size over 100% \(150%\), got "150%"/],
  ['negative batch size', () => parseBatchSize('1,-5'), /^input "batch-size": has a negative wave size \(-5\), got "1,-5"/],
  ['malformed batch size', () => parseBatchSize('ten'), /^input "batch-size": has "ten", which is not a wave size, got "ten"/],
  ['fractional count', () => parseBatchSize('2.5'), /^input "batch-size": has "2.5", which is not a wave size/],
  ['empty schedule entry', () => parseBatchSize('1,,5'), /^input "batch-size": has an empty entry, got "1,,5"/],
  ['empty batch size', () => parseBatchSize(' '), /^input "batch-size": is empty/],
  [
    'malformed tenants file',
    () => parseTenantsFile('tenants:\n  - id: a\n   - id: b\n', 'tenants.yaml'),
    /^tenants.yaml:3:\d+: malformed YAML: /,
  ],
  [
    'duplicate tenant ids (file)',
    () => parseTenantsFile('tenants:\n  - id: a\n  - id: a\n', 'tenants.yaml'),
    /^tenants.yaml:3:5: duplicate tenant id "a" \(also at line 2\)/,
  ],
  [
    'duplicate tenant ids (plan input)',
    () => planRollout([tenant('a'), tenant('a')], { pilot: parsePilot('0'), batchSize: parseBatchSize('1') }),
    /^tenant selection: duplicate tenant id "a"/,
  ],
  [
    'invalid namespace (file)',
    () => parseTenantsFile('tenants:\n  - id: a\n    namespace: "tenant a"\n', 'tenants.yaml'),
    /^tenants.yaml:3:16: tenants\[0\].namespace: "tenant a" is not a valid namespace name/,
  ],
  [
    'invalid namespace (list)',
    () => tenantsFromList('tenants', `ok,${'n'.repeat(58)}`, { releaseTemplate: 'app' }),
    /^input "tenants": namespace "tenant-n+" is not a valid namespace name/,
  ],
  [
    'invalid tenant id (namespace label)',
    () => tenantsFromNamespaces([{ name: 'tenant-a', labels: { 'dotmac.io/tenant-id': 'A B' }, annotations: {} }]),
    /^namespace "tenant-a": tenant id "A B"/,
  ],
  [
    'tampered plan',
    () => parsePlan(serializePlan(planWith('1')).replace('"batchSize":"2"', '"batchSize":"4"')),
    /^input "plan": does not match its fingerprint/,
  ],
];

describe('bad input: one clear error each', () => {
  it.each(cases)('%s', (_name, fn, re) => {
    const err = thrown(fn);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect(err.message).toMatch(re);
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('file errors carry a location for annotations', () => {
    const err = thrown(() => parseTenantsFile('tenants:\n  - id: a\n  - id: a\n', 'deploy/tenants.yaml')) as unknown as ConfigurationError;
    expect(err.location).toEqual({ file: 'deploy/tenants.yaml', line: 3, column: 5 });
  });
});
