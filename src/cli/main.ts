// Placeholder replaced by the tenant-rollout CLI.
export async function cli(argv: string[]): Promise<number> {
  console.error(`deploy-actions: unknown command ${argv[0] ?? ''}`);
  return 2;
}
