/**
 * Two tiny, strict expression languages, parsed up front so a typo fails before anything runs:
 *
 * - JSON expectations of smoke checks: `$.status == "ok"`, `$.ready == true`, `$.items.length > 0`,
 *   `$.data[0]["build-id"] != null`, or a bare path (`$.version`: present and not null).
 *   Path: `$`, then `.name`, `[index]` (negative counts from the end) or `["key"]`; `.length` of an
 *   array or string is its length. Literal: a JSON string (or 'single quoted'), number, true,
 *   false, null. No filters, wildcards or recursive descent: one path, one value.
 * - Failure conditions of analysis metrics: `result > 0.05` (`result OP number`).
 *
 * Comparison is strict: `"1" == 1` is false; `<`, `<=`, `>`, `>=` need two numbers or two strings.
 */

export type Op = '==' | '!=' | '<' | '<=' | '>' | '>=';
export type Literal = string | number | boolean | null;
export type Segment = { key: string } | { index: number };

export interface JsonExpectation {
  source: string;
  /** The path as written (`$.items.length`), for reports. */
  pathSource: string;
  path: Segment[];
  /** Absent for a bare path (presence check). */
  op?: Op;
  expected?: Literal;
}

export interface Condition {
  source: string;
  op: Op;
  threshold: number;
}

/** A parse failure, with the column it happened at; callers wrap it into a ConfigurationError. */
export class ExpressionError extends Error {
  override readonly name = 'ExpressionError';
  constructor(
    readonly source: string,
    readonly column: number,
    readonly problem: string,
  ) {
    super(`"${source}" does not parse: ${problem} at column ${column + 1}`);
  }
}

class Scanner {
  pos = 0;
  constructor(readonly src: string) {}
  ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }
  peek(n = 1): string {
    return this.src.slice(this.pos, this.pos + n);
  }
  eof(): boolean {
    return this.pos >= this.src.length;
  }
  fail(problem: string): never {
    throw new ExpressionError(this.src, this.pos, problem);
  }
  expect(s: string, what: string): void {
    if (this.peek(s.length) !== s) this.fail(`expected ${what}`);
    this.pos += s.length;
  }
}

const OPS: Op[] = ['==', '!=', '<=', '>=', '<', '>'];

function readOp(s: Scanner): Op | undefined {
  for (const op of OPS) {
    if (s.peek(op.length) === op) {
      s.pos += op.length;
      return op;
    }
  }
  return undefined;
}

function readString(s: Scanner): string {
  const quote = s.peek();
  if (quote === '"') {
    // A JSON string, escapes and all (raw control characters are not allowed in JSON strings).
    // eslint-disable-next-line no-control-regex
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(s.src.slice(s.pos));
    if (!m) s.fail('unterminated or invalid "string"');
    s.pos += m[0].length;
    return JSON.parse(m[0]) as string;
  }
  if (quote === "'") {
    const end = s.src.indexOf("'", s.pos + 1);
    if (end < 0) s.fail("unterminated 'string'");
    const v = s.src.slice(s.pos + 1, end);
    s.pos = end + 1;
    return v;
  }
  return s.fail('expected a string');
}

/** `<op> <value>` up to the end: how an expectation and a condition both end. */
function readComparison<T>(s: Scanner, readValue: (s: Scanner) => T, what: string): { op: Op; value: T } {
  const op = readOp(s);
  if (!op) s.fail('expected an operator (==, !=, <, <=, >, >=)');
  s.ws();
  const value = readValue(s);
  s.ws();
  if (!s.eof()) s.fail(`unexpected text after the ${what}`);
  return { op, value };
}

function readNumber(s: Scanner): number {
  const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(s.src.slice(s.pos));
  if (!m) s.fail('expected a number');
  s.pos += m[0].length;
  return Number(m[0]);
}

function readLiteral(s: Scanner): Literal {
  const c = s.peek();
  if (c === '"' || c === "'") return readString(s);
  if (c === '-' || /\d/.test(c)) return readNumber(s);
  for (const [word, v] of [
    ['true', true],
    ['false', false],
    ['null', null],
  ] as const) {
    if (s.peek(word.length) === word && !/[\w]/.test(s.src[s.pos + word.length] ?? '')) {
      s.pos += word.length;
      return v;
    }
  }
  return s.fail('expected a value (a "string", a number, true, false or null)');
}

function readPath(s: Scanner): Segment[] {
  s.expect('$', 'a path starting with "$"');
  const path: Segment[] = [];
  for (;;) {
    const c = s.peek();
    if (c === '.') {
      s.pos++;
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(s.src.slice(s.pos));
      if (!m) s.fail('expected a field name after "."');
      s.pos += m[0].length;
      path.push({ key: m[0] });
    } else if (c === '[') {
      s.pos++;
      s.ws();
      const q = s.peek();
      if (q === '"' || q === "'") path.push({ key: readString(s) });
      else {
        const m = /^-?\d+/.exec(s.src.slice(s.pos));
        if (!m) s.fail('expected an index or a quoted key inside [ ]');
        s.pos += m[0].length;
        path.push({ index: Number(m[0]) });
      }
      s.ws();
      s.expect(']', '"]"');
    } else {
      return path;
    }
  }
}

export function parseJsonExpectation(source: string): JsonExpectation {
  const s: Scanner = new Scanner(source);
  s.ws();
  const start = s.pos;
  const path = readPath(s);
  const pathSource = source.slice(start, s.pos);
  s.ws();
  if (s.eof()) return { source: source.trim(), pathSource, path };
  const { op, value: expected } = readComparison(s, readLiteral, 'value');
  return { source: source.trim(), pathSource, path, op, expected };
}

export function parseCondition(source: string): Condition {
  const s: Scanner = new Scanner(source);
  s.ws();
  if (s.peek(6) !== 'result') s.fail('expected "result" (write e.g. result > 0.05)');
  s.pos += 6;
  s.ws();
  const { op, value: threshold } = readComparison(s, readNumber, 'number');
  return { source: source.trim(), op, threshold };
}

/** The value at `path`, or undefined when any step is missing. */
export function select(doc: unknown, path: Segment[]): unknown {
  let cur: unknown = doc;
  for (const seg of path) {
    if ('index' in seg) {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[seg.index < 0 ? cur.length + seg.index : seg.index];
    } else if ((Array.isArray(cur) || typeof cur === 'string') && seg.key === 'length') {
      cur = cur.length;
    } else if (cur !== null && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, seg.key)) {
      cur = (cur as Record<string, unknown>)[seg.key];
    } else {
      return undefined;
    }
  }
  return cur;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

/** Applies `op`; `undefined` when the operands cannot be ordered (a type mismatch). */
export function compare(actual: unknown, op: Op, expected: unknown): boolean | undefined {
  if (op === '==') return sameValue(actual, expected);
  if (op === '!=') return !sameValue(actual, expected);
  const ordered =
    (typeof actual === 'number' && typeof expected === 'number') || (typeof actual === 'string' && typeof expected === 'string');
  if (!ordered) return undefined;
  const [a, b] = [actual as number | string, expected as number | string];
  return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
}

export interface ExpectationOutcome {
  expression: string;
  passed: boolean;
  /** The value found at the path (undefined when the path is missing). */
  found: unknown;
  problem?: string;
}

export function evaluateExpectation(doc: unknown, e: JsonExpectation): ExpectationOutcome {
  const found = select(doc, e.path);
  const base = { expression: e.source, found };
  if (found === undefined) return { ...base, passed: false, problem: 'not found' };
  if (!e.op) return found === null ? { ...base, passed: false, problem: 'is null' } : { ...base, passed: true };
  const r = compare(found, e.op, e.expected);
  if (r === undefined) return { ...base, passed: false, problem: `cannot compare ${typeOf(found)} with ${typeOf(e.expected)}` };
  return r ? { ...base, passed: true } : { ...base, passed: false, problem: `found ${show(found)}` };
}

/** True when the measured value breaches the condition. */
export function breaches(value: number, c: Condition): boolean {
  return compare(value, c.op, c.threshold) === true;
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/** A short, JSON-ish rendering of a measured value for reports. */
export function show(v: unknown, max = 80): string {
  const s = v === undefined ? 'undefined' : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
