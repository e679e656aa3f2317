import { describe, expect, it } from 'vitest';
import { evaluateExpectation, parseCondition, parseJsonExpectation, select, breaches } from '../../src/verify/expression.ts';

const doc = {
  status: 'ok',
  ready: true,
  items: [{ id: 1 }, { id: 2 }],
  data: { 'build-id': 'abc', count: 3, nothing: null },
  name: 'isp',
  length: 'not-an-array',
};

describe('JSON expectations', () => {
  it.each([
    ['$.status == "ok"', true, 'ok'],
    ["$.status == 'ok'", true, 'ok'],
    ['$.status != "down"', true, 'ok'],
    ['$.ready == true', true, true],
    ['$.ready == false', false, true],
    ['$.items.length > 0', true, 2],
    ['$.items.length >= 3', false, 2],
    ['$.items[0].id == 1', true, 1],
    ['$.items[-1].id == 2', true, 2],
    ['$.data["build-id"] == "abc"', true, 'abc'],
    ['$.data.build-id == "abc"', true, 'abc'],
    ['$.data.count < 4', true, 3],
    ['$.data.count <= 2.5', false, 3],
    ['$.data.nothing == null', true, null],
    ['$.name.length == 3', true, 3],
    ['$.length == "not-an-array"', true, 'not-an-array'],
    ['$.items == [1]', undefined, undefined],
  ])('%s', (src, passed, found) => {
    if (passed === undefined) {
      expect(() => parseJsonExpectation(src)).toThrow(/does not parse/);
      return;
    }
    const o = evaluateExpectation(doc, parseJsonExpectation(src));
    expect(o.passed).toBe(passed);
    expect(o.found).toEqual(found);
  });

  it('is strict about types: "1" is not 1, and strings do not order against numbers', () => {
    expect(evaluateExpectation({ v: '1' }, parseJsonExpectation('$.v == 1')).passed).toBe(false);
    const o = evaluateExpectation({ v: '5' }, parseJsonExpectation('$.v > 1'));
    expect(o).toMatchObject({ passed: false, problem: 'cannot compare string with number' });
  });

  it('a missing path fails with "not found"; a bare path checks presence', () => {
    expect(evaluateExpectation(doc, parseJsonExpectation('$.nope == 1'))).toMatchObject({
      passed: false,
      problem: 'not found',
      found: undefined,
    });
    expect(evaluateExpectation(doc, parseJsonExpectation('$.status')).passed).toBe(true);
    expect(evaluateExpectation(doc, parseJsonExpectation('$.data.nothing'))).toMatchObject({ passed: false, problem: 'is null' });
    expect(evaluateExpectation(doc, parseJsonExpectation('$.absent')).passed).toBe(false);
  });

  it.each([
    ['status == "ok"', /expected a path starting with "\$" at column 1/],
    ['$.status = "ok"', /expected an operator .* at column 10/],
    ['$.status == ok', /expected a value .* at column 13/],
    ['$.status == "ok', /unterminated or invalid "string"/],
    ['$..status == "ok"', /expected a field name after "."/],
    ['$.items[*].id == 1', /expected an index or a quoted key/],
    ['$.items[0 == 1', /expected "]"/],
    ['$.ready == true false', /unexpected text after the value/],
    ['$.ready == truex', /expected a value/],
    ['$.a.1 == 1', /expected a field name/],
  ])('rejects %j with where and why', (src, re) => {
    expect(() => parseJsonExpectation(src)).toThrow(re);
  });

  it('select walks only what exists', () => {
    expect(select([1, 2], [{ key: 'x' }])).toBeUndefined();
    expect(select({ a: [1] }, [{ key: 'a' }, { index: 5 }])).toBeUndefined();
    expect(select({ a: { b: 1 } }, [{ key: 'a' }, { key: 'toString' }])).toBeUndefined();
  });
});

describe('failure conditions', () => {
  it.each([
    ['result > 0.05', 0.06, true],
    ['result > 0.05', 0.05, false],
    ['result >= 0.05', 0.05, true],
    ['result < 0.95', 0.9, true],
    ['result <= 1e-3', 0.0001, true],
    ['  result   ==  0 ', 0, true],
    ['result != 0', 0, false],
  ])('%s with %d -> %s', (src, v, breach) => {
    expect(breaches(v, parseCondition(src))).toBe(breach);
  });

  it.each([
    ['value > 1', /expected "result"/],
    ['result >', /expected a number/],
    ['result > "1"', /expected a number/],
    ['result => 1', /expected an operator/],
    ['result > 1 || result < 0', /unexpected text after the number/],
  ])('rejects %j', (src, re) => {
    expect(() => parseCondition(src)).toThrow(re);
  });
});
