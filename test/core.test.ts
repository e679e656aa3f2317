import { describe, expect, it } from 'vitest';
import { parseDuration, humanDuration } from '../src/core/duration.ts';
import { checkNamespace, checkRelease } from '../src/core/names.ts';
import { Secrets } from '../src/core/secrets.ts';
import { runCommand } from '../src/core/process.ts';

describe('parseDuration', () => {
  it.each([
    ['300', 300_000],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1m30s', 90_000],
  ])('%s -> %d ms', (v, ms) => expect(parseDuration('timeout', v)).toBe(ms));

  it.each(['', 'five minutes', '5 m', '5x', '-5m', 'm5'])('rejects %j naming the input and the fix', (v) => {
    expect(() => parseDuration('timeout', v)).toThrow(/input "timeout": is not a duration, got ".*" \(use a number of seconds/);
  });

  it('formats for people', () => {
    expect(humanDuration(4_000)).toBe('4s');
    expect(humanDuration(245_000)).toBe('4m05s');
    expect(humanDuration(3_900_000)).toBe('1h05m');
  });
});

describe('names', () => {
  it('accepts DNS-1123 names', () => {
    expect(checkNamespace('namespace', 'tenant-fast-fiber')).toBe('tenant-fast-fiber');
    expect(checkRelease('release', 'fast-fiber.isp')).toBe('fast-fiber.isp');
  });
  it.each(['Tenant', 'a_b', '-a', 'a-', 'x; rm -rf /', '$(id)', 'a'.repeat(64)])('rejects namespace %j', (v) => {
    expect(() => checkNamespace('namespace', v)).toThrow(/input "namespace": is not a valid namespace name/);
  });
  it('limits release names to 53 characters', () => {
    expect(() => checkRelease('release', 'a'.repeat(54))).toThrow(/Helm release name/);
  });
});

describe('Secrets', () => {
  it('redacts every registered value, longest first, and each line of a multi-line secret', () => {
    const masked: string[] = [];
    const s = new Secrets((v) => masked.push(v));
    s.add('hunter22');
    s.add('token: abcdef\nclient-key: zzzzzz');
    s.add('apiVersion: v1\nusers: x', { wholeOnly: true });
    s.add('ok'); // too short to be worth masking
    expect(s.redact('pw=hunter22 key=zzzzzz-client-key: zzzzzz ok')).toBe('pw=*** key=zzzzzz-*** ok');
    expect(masked).toContain('client-key: zzzzzz');
    expect(masked).not.toContain('ok');
  });
});

describe('runCommand', () => {
  it('passes argv verbatim, with no shell interpretation', async () => {
    const r = await runCommand(process.execPath, ['-e', 'console.log(JSON.stringify(process.argv.slice(1)))', '$(id)', 'a b;c']);
    expect(JSON.parse(r.stdout)).toEqual(['$(id)', 'a b;c']);
    expect(r.exitCode).toBe(0);
  });

  it('interrupts with SIGINT first so the child can clean up', async () => {
    const ac = new AbortController();
    const script = "process.on('SIGINT',()=>{console.log('cleaned');process.exit(3)});console.log('ready');setInterval(()=>{},1000)";
    const p = runCommand(process.execPath, ['-e', script], {
      signal: ac.signal,
      onLine: (l) => l === 'ready' && ac.abort(),
    });
    const r = await p;
    expect(r.aborted).toBe(true);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toContain('cleaned');
  });
});

describe('Secrets (whole-only)', () => {
  it('masks a structured document whole without masking its ordinary lines', () => {
    const s = new Secrets();
    s.add('apiVersion: v1\nkind: Config', { wholeOnly: true });
    expect(s.redact('kind: Config')).toBe('kind: Config');
    expect(s.redact('x apiVersion: v1\nkind: Config y')).toBe('x *** y');
  });
});
