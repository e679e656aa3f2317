import { describe, expect, it, vi } from 'vitest';
import { cli, parseArgs } from '../src/cli/main.ts';

async function capture(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((m: unknown) => void out.push(String(m)));
  const error = vi.spyOn(console, 'error').mockImplementation((m: unknown) => void err.push(String(m)));
  try {
    const code = await cli(argv, { PATH: process.env.PATH });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('deploy-actions CLI', () => {
  it('maps flags onto action inputs, repeating flags into lines', () => {
    expect(parseArgs(['rollout', '--set', 'a=1', '--set=b=2', '--pilot', '2'])).toEqual({
      action: 'tenant-rollout',
      inputs: { set: 'a=1\nb=2', pilot: '2' },
      json: false,
    });
    expect(parseArgs(['plan', '--tenants', 'a,b'])).toMatchObject({
      action: 'tenant-rollout',
      inputs: { phase: 'plan', chart: '.', tenants: 'a,b' },
    });
    expect(parseArgs(['plan', 'oops'])).toMatch(/^unexpected argument "oops"/);
    expect(parseArgs(['plan', '--pilot'])).toBe('--pilot needs a value');
  });

  it('plans the example fleet with no cluster and prints the plan table', async () => {
    const r = await capture(['plan', '--tenants-file', 'examples/tenants.yaml', '--pilot', '2', '--batch-size', '1,25%,100%']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\| pilot \|/);
    expect(r.err).toMatch(/plan [0-9a-f]{12}: 2 pilot tenants, \d+ waves/);
  });

  it('prints outputs as JSON, the plan among them', async () => {
    const r = await capture(['plan', '--tenants', 'a,b,c,d', '--pilot', 'a', '--batch-size', '2', '--json']);
    const outputs = JSON.parse(r.out) as Record<string, string>;
    const plan = JSON.parse(outputs.plan!);
    expect(plan.pilot.map((t: { id: string }) => t.id)).toEqual(['a']);
    expect(plan.waves.map((w: { id: string }[]) => w.map((t) => t.id))).toEqual([['b', 'c'], ['d']]);
  });

  it('bad input: one clear line and exit code 2, nothing run', async () => {
    const r = await capture(['plan', '--tenants', 'a,b', '--batch-size', '150%']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^error: input "batch-size": .*150%/);
  });

  it('unknown action', async () => {
    const r = await capture(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown action "frobnicate"/);
  });
});
