import { describe, expect, it } from 'vitest';
import { parseSelection, selectTenants, globToRegExp } from '../../src/tenants/select.ts';
import { matchesSelector, parseSelector } from '../../src/tenants/selector.ts';
import { tenant } from './helpers.ts';

describe('label selectors', () => {
  const labels = { ring: 'canary', tier: 'gold', 'dotmac.io/region': 'eu-west' };
  it.each([
    ['ring=canary', true],
    ['ring==canary', true],
    ['ring=pilot', false],
    ['ring!=pilot', true],
    ['missing!=x', true],
    ['tier in (gold,silver)', true],
    ['tier in (silver, bronze)', false],
    ['tier notin (silver)', true],
    ['missing notin (silver)', true],
    ['missing in (silver)', false],
    ['!legacy', true],
    ['!ring', false],
    ['ring', true],
    ['dotmac.io/region=eu-west', true],
    ['ring=canary,tier in (gold,silver)', true],
    ['ring=canary, tier=silver', false],
    ['ring=canary,!tier', false],
  ])('%s -> %s', (sel, want) => expect(matchesSelector(parseSelector('include', sel), labels)).toBe(want));

  it('accepts an empty value, as Kubernetes does', () => {
    expect(matchesSelector(parseSelector('pilot', 'ring='), { ring: '' })).toBe(true);
    expect(matchesSelector(parseSelector('pilot', 'ring=='), { ring: 'x' })).toBe(false);
  });

  it.each([
    '',
    'tier in ()',
    'tier in (a,,b)',
    'tier in (a',
    'ring=a=b',
    'ring=canary,',
    '=x',
    'bad key=x',
    'ring=Bad Value',
    'tier inn (a)',
  ])('rejects %j naming the input', (sel) => {
    expect(() => parseSelector('pilot', sel)).toThrow(/^input "pilot": is not a valid label selector/);
  });
});

describe('globs', () => {
  it.each([
    ['eu-*', 'eu-west', true],
    ['eu-*', 'us-east', false],
    ['isp-??', 'isp-12', true],
    ['isp-??', 'isp-123', false],
    ['eu-[ab]*', 'eu-b1', true],
    ['eu-[!ab]*', 'eu-b1', false],
    ['eu-[!ab]*', 'eu-c1', true],
    ['a.b', 'axb', false],
  ])('%s matches %s: %s', (g, id, want) => expect(globToRegExp(g).test(id)).toBe(want));
});

describe('selectTenants', () => {
  const fleet = [
    tenant('eu-1', { ring: 'canary', tier: 'gold' }),
    tenant('eu-2', { ring: 'general', tier: 'silver' }),
    tenant('us-1', { ring: 'general', tier: 'bronze', legacy: 'true' }),
    tenant('us-2', { ring: 'pilot', tier: 'gold' }),
  ];
  const ids = (include?: string, exclude?: string) =>
    selectTenants(fleet, {
      include: include === undefined ? undefined : parseSelection('include', include),
      exclude: exclude === undefined ? undefined : parseSelection('exclude', exclude),
    }).map((t) => t.id);

  it('selects everything by default and for an empty include', () => {
    expect(ids()).toEqual(['eu-1', 'eu-2', 'us-1', 'us-2']);
    expect(ids('  \n')).toEqual(['eu-1', 'eu-2', 'us-1', 'us-2']);
  });
  it('unions ids, globs and selectors (one per line, commas in a selector line mean AND)', () => {
    expect(ids('us-2, eu-*')).toEqual(['eu-1', 'eu-2', 'us-2']);
    expect(ids('ring=canary\nus-1')).toEqual(['eu-1', 'us-1']);
    expect(ids('tier in (gold,silver)')).toEqual(['eu-1', 'eu-2', 'us-2']);
    expect(ids('tier=gold,ring=pilot')).toEqual(['us-2']);
  });
  it('applies exclude after include', () => {
    expect(ids(undefined, '!legacy')).toEqual(['us-1']);
    expect(ids('eu-*\nus-*', 'us-1\nring=canary')).toEqual(['eu-2', 'us-2']);
  });
  it('keeps the input order', () => {
    expect(selectTenants([...fleet].reverse(), { include: parseSelection('include', 'eu-*') }).map((t) => t.id)).toEqual(['eu-2', 'eu-1']);
  });
  it('lets globs and selectors match nothing', () => {
    expect(ids('eu-1\nap-*\nring=nothing')).toEqual(['eu-1']);
  });
  it('rejects an exact id that matches nothing (typo protection), in include and in exclude', () => {
    expect(() => ids('eu-1,eu-3')).toThrow(/^input "include": names a tenant that does not exist, got "eu-3"/);
    expect(() => ids(undefined, 'us1')).toThrow(/^input "exclude": names a tenant that does not exist, got "us1"/);
  });
  it('rejects an empty selection, naming include and exclude', () => {
    expect(() => ids('ap-*')).toThrow(/^tenant selection: no tenant is left after include "ap-\*" \(out of 4\)/);
    expect(() => ids('eu-*', 'tier in (gold,silver)')).toThrow(
      /no tenant is left after include "eu-\*" and exclude "tier in \(gold,silver\)"/,
    );
    expect(() => selectTenants([], {})).toThrow(/no tenants were found/);
  });
  it.each(['Alpha', 'eu_1', 'eu-*!'])('rejects entry %j', (e) => {
    expect(() => parseSelection('include', e)).toThrow(/^input "include": /);
  });
});
