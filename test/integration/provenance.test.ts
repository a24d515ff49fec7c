/**
 * SLSA provenance (`NAME.intoto.jsonl`): release writes it, byte-identical for the same
 * inputs and valid against the in-toto Statement v1 and SLSA Provenance v1 schemas
 * (test/fixtures/schemas/); `--sign` wraps it in a DSSE envelope signed with a throwaway
 * OpenPGP key (temporary GNUPGHOME) or SSH key; `verify --provenance` accepts exactly the
 * right tarball, lock and key, and names what differs otherwise.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { GitFixtures, TestRepo } from '../helpers/git-repos.js';
import type { TestHttpServer } from '../helpers/http-server.js';
import { startReleaseUpstreams, type ReleaseUpstreams } from '../helpers/release-project.js';
import { runInProcess } from '../helpers/in-process.js';
import { tempDirs } from '../helpers/tmp.js';
import { testGpg, type TestGpg } from '../helpers/gpg.js';

const tmp = tempDirs();
const SCHEMAS = fileURLToPath(new URL('../fixtures/schemas/', import.meta.url));
const addFormats = addFormatsModule as unknown as (a: Ajv) => void;
let up: ReleaseUpstreams;
let fx: GitFixtures;
let seabios: TestRepo;
let server: TestHttpServer;
let newlibTgz: Buffer;
let cacheDir: string;
let keyring: TestGpg;
let gnupg: string;
let fprA: string;
let keyAFile: string;
let keyBFile: string;
let sshA: string;
let sshB: string;
let validateStatement: ReturnType<Ajv['compile']>;
let validatePredicate: ReturnType<Ajv['compile']>;

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const TARBALL = 'xen-4.22.0.tar.gz';
const PROVENANCE = `${TARBALL}.intoto.jsonl`;
const EPOCH = { SOURCE_DATE_EPOCH: '1767225600' };

/** DSSE's pre-authentication encoding, written here from the specification (not imported from src/). */
const pae = (type: string, body: Buffer) =>
  Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body]);

beforeAll(async () => {
  up = await startReleaseUpstreams(tmp);
  ({ fx, seabios, server, newlibTgz, cacheDir } = up);

  keyring = testGpg(await tmp.make('xenrel-gnupg-'));
  gnupg = keyring.home;
  fprA = keyring.newKey('Release Manager <rm@xen.invalid>');
  const fprB = keyring.newKey('Someone Else <b@elsewhere.invalid>');
  const keys = await tmp.make('xenrel-keys-');
  keyAFile = join(keys, 'a.asc');
  keyBFile = join(keys, 'b.asc');
  await writeFile(keyAFile, keyring.run(['--armor', '--export', fprA]));
  await writeFile(keyBFile, keyring.run(['--armor', '--export', fprB]));
  sshA = join(keys, 'id_a');
  sshB = join(keys, 'id_b');
  for (const k of [sshA, sshB]) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', k]);

  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const f of ['in-toto-statement-v1.schema.json', 'slsa-provenance-v1.schema.json'])
    ajv.addSchema(JSON.parse(await readFile(join(SCHEMAS, f), 'utf8')));
  validateStatement = ajv.getSchema('https://xenrel.dev/test-schemas/in-toto-statement-v1.schema.json')!;
  validatePredicate = ajv.getSchema('https://xenrel.dev/test-schemas/slsa-provenance-v1.schema.json')!;
}, 120_000);

afterAll(async () => {
  keyring?.kill();
  await up?.close();
  await tmp.cleanup();
});

/** A git project (the "Xen tree") with a config and a lock, committed. */
const gitProject = (parent?: string) =>
  up.gitProject({ parent, repository: 'https://xenbits.example.invalid/git/xen.git' });

const cli = (dir: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  runInProcess(args, { cwd: dir, env: { ...fx.env, GNUPGHOME: gnupg, ...EPOCH, ...env } });
const release = (dir: string, out: string, args: string[] = []) =>
  cli(dir, ['release', '--cache', cacheDir, '--out', join(dir, out), ...args]);
const verify = (dir: string, out: string, args: string[], tarball = TARBALL) =>
  cli(dir, ['verify', join(dir, out, tarball), '--provenance', join(dir, out, PROVENANCE), ...args]);

const readLine = async (file: string) => {
  const text = await readFile(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  expect(text.split('\n')).toHaveLength(2);
  return JSON.parse(text) as Record<string, any>;
};

let project: string;
let statementBytes: string;

describe('release provenance', () => {
  it('is one canonical line, valid in-toto Statement v1 / SLSA Provenance v1, naming the tarball and every pin', async () => {
    project = await gitProject();
    const r = await release(project, 'out');
    expect(r.code, r.stderr).toBe(0);
    const tarball = await readFile(join(project, 'out', TARBALL));
    statementBytes = await readFile(join(project, 'out', PROVENANCE), 'utf8');
    const s = await readLine(join(project, 'out', PROVENANCE));

    expect(validateStatement(s), JSON.stringify(validateStatement.errors)).toBe(true);
    expect(validatePredicate(s.predicate), JSON.stringify(validatePredicate.errors)).toBe(true);
    // Canonical: every object's keys sorted, no spaces.
    const canonical = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(canonical)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, canonical((v as any)[k])]),
            )
          : v;
    expect(statementBytes).toBe(`${JSON.stringify(canonical(s))}\n`);

    const lock = JSON.parse(await readFile(join(project, 'xenrel.lock'), 'utf8'));
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: project, encoding: 'utf8' }).trim();
    const info = JSON.parse(
      execFileSync('tar', ['-xzOf', join(project, 'out', TARBALL), 'xen-4.22.0/.xenrel/release.json'], {
        encoding: 'utf8',
      }),
    );
    expect(s._type).toBe('https://in-toto.io/Statement/v1');
    expect(s.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(s.subject).toEqual([{ name: TARBALL, digest: { sha256: sha256(tarball) } }]);
    const bd = s.predicate.buildDefinition;
    expect(bd.buildType).toBe('https://xenrel.dev/release/v1');
    expect(bd.externalParameters).toEqual({
      compression: { format: 'gz', level: 9 },
      prefix: 'xen-4.22.0',
      project: { commit, repository: 'https://xenbits.example.invalid/git/xen.git' },
      sourceDateEpoch: 1767225600,
      version: '4.22.0',
      without: [],
    });
    expect(Object.keys(bd.internalParameters)).toEqual(['xenrelVersion']);
    expect(bd.resolvedDependencies).toEqual([
      {
        name: 'xen',
        uri: 'git+https://xenbits.example.invalid/git/xen.git',
        digest: { gitCommit: commit },
        annotations: { tree: info.project.tree, xenrelRole: 'project' },
      },
      {
        name: 'newlib',
        uri: `${server.url}/newlib-1.16.0.tar.gz`,
        digest: { sha512: createHash('sha512').update(newlibTgz).digest('hex') },
        annotations: {
          path: 'stubdom/newlib-1.16.0.tar.gz',
          tree: lock.components.newlib.tree,
          xenrelRole: 'component',
        },
      },
      {
        name: 'seabios',
        uri: seabios.url,
        digest: { gitCommit: lock.components.seabios.commit },
        annotations: {
          path: 'tools/firmware/seabios-dir-remote',
          ref: 'rel-1.17.0',
          tree: lock.components.seabios.tree,
          xenrelRole: 'component',
        },
      },
    ]);
    expect(s.predicate.runDetails).toEqual({
      builder: { id: 'https://xenrel.dev/builder/local/v1', version: { xenrel: bd.internalParameters.xenrelVersion } },
    });
    // Nothing of the machine: no paths, no host name, no clock.
    expect(statementBytes).not.toContain(project);
    expect(statementBytes).not.toContain(cacheDir);
    expect(statementBytes).not.toMatch(/20\d\d-\d\d-\d\dT/);

    const ok = await verify(project, 'out', []);
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout).toContain(`ok       provenance ${join(project, 'out', PROVENANCE)}`);
    const withLock = await verify(project, 'out', ['--lock', join(project, 'xenrel.lock')]);
    expect(withLock.code, withLock.stderr + withLock.stdout).toBe(0);
  }, 120_000);

  it('is byte-identical from a second clone in another path; --no-provenance writes none', async () => {
    const clone = join(await tmp.make('xenrel-clone-'), 'deeper', 'xen');
    execFileSync('git', ['clone', '-q', project, clone], { env: fx.env });
    const r = await release(clone, 'out');
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(clone, 'out', PROVENANCE), 'utf8')).toBe(statementBytes);

    const none = await release(clone, 'out', ['--no-provenance']);
    expect(none.code, none.stderr).toBe(0);
    await expect(readFile(join(clone, 'out', PROVENANCE))).rejects.toThrow(/ENOENT/);
  }, 120_000);

  it('the schemas can fail: a subject without digest, a predicate without builder', () => {
    const s = JSON.parse(statementBytes);
    expect(validateStatement({ ...s, subject: [{ name: TARBALL }] })).toBe(false);
    expect(validateStatement({ ...s, predicateType: 'not a uri' })).toBe(false);
    expect(validatePredicate({ ...s.predicate, runDetails: {} })).toBe(false);
    expect(
      validatePredicate({
        ...s.predicate,
        buildDefinition: { ...s.predicate.buildDefinition, resolvedDependencies: [{ name: 'x' }] },
      }),
    ).toBe(false);
  });
});

describe('signed provenance', () => {
  it('gpg: a DSSE envelope over the same statement; verify accepts the key file or its fingerprint, refuses another key', async () => {
    const r = await release(project, 'gpg', ['--sign', fprA]);
    expect(r.code, r.stderr).toBe(0);
    const env = await readLine(join(project, 'gpg', PROVENANCE));
    expect(Object.keys(env)).toEqual(['payloadType', 'payload', 'signatures']);
    expect(env.payloadType).toBe('application/vnd.in-toto+json');
    expect(`${Buffer.from(env.payload, 'base64').toString('utf8')}\n`).toBe(statementBytes);
    expect(env.signatures).toHaveLength(1);
    expect(env.signatures[0].keyid).toMatch(/^[0-9A-F]{40}$/);
    // The signature is a binary OpenPGP one over the PAE: gpg itself agrees.
    const dir = await tmp.make();
    await writeFile(join(dir, 'sig'), Buffer.from(env.signatures[0].sig, 'base64'));
    await writeFile(join(dir, 'pae'), pae(env.payloadType, Buffer.from(env.payload, 'base64')));
    expect(Buffer.from(env.signatures[0].sig, 'base64')[0]! & 0x80).toBe(0x80);
    expect(
      spawnSync('gpg', ['--batch', '--verify', join(dir, 'sig'), join(dir, 'pae')], {
        env: { ...process.env, GNUPGHOME: gnupg },
      }).status,
    ).toBe(0);

    for (const key of [keyAFile, fprA]) {
      const ok = await verify(project, 'gpg', ['--key', key]);
      expect(ok.code, ok.stderr + ok.stdout).toBe(0);
      expect(ok.stdout).toContain(`(signed by ${fprA})`);
    }
    const wrong = await verify(project, 'gpg', ['--key', keyBFile]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('provenance: DSSE signature: made by a key other than --key');
    const ssh = await verify(project, 'gpg', ['--key', `${sshA}.pub`]);
    expect(ssh.code).toBe(1);
    expect(ssh.stdout).toContain('provenance: DSSE signature: made with an OpenPGP key, --key is an SSH key');
    const noSecret = await release(project, 'nokey', ['--sign', 'nobody@nowhere.invalid']);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('--sign nobody@nowhere.invalid: no such secret key in the OpenPGP keyring');
    await expect(readFile(join(project, 'nokey', TARBALL))).rejects.toThrow(/ENOENT/);
    const both = await release(project, 'nokey', ['--sign', fprA, '--no-provenance']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('signing needs the provenance');

    const noKey = await verify(project, 'gpg', []);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/is signed: pass --key KEY/);
  }, 120_000);

  it('ssh: signed with ssh-keygen -Y in namespace xenrel-provenance; verify accepts its .pub, refuses another key', async () => {
    const r = await release(project, 'ssh', ['--sign', sshA]);
    expect(r.code, r.stderr).toBe(0);
    const env = await readLine(join(project, 'ssh', PROVENANCE));
    expect(`${Buffer.from(env.payload, 'base64').toString('utf8')}\n`).toBe(statementBytes);
    const armored = Buffer.from(env.signatures[0].sig, 'base64').toString('utf8');
    expect(armored).toMatch(/^-----BEGIN SSH SIGNATURE-----\n/);
    const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${sshA}.pub`], { encoding: 'utf8' }).split(
      ' ',
    )[1];
    expect(env.signatures[0].keyid).toBe(fp);
    // ssh-keygen itself agrees the signature is over the PAE, in our namespace.
    const dir = await tmp.make();
    await writeFile(
      join(dir, 'allowed'),
      `rm namespaces="xenrel-provenance" ${(await readFile(`${sshA}.pub`, 'utf8')).split(' ').slice(0, 2).join(' ')}\n`,
    );
    await writeFile(join(dir, 'sig'), armored);
    const check = spawnSync(
      'ssh-keygen',
      ['-Y', 'verify', '-f', join(dir, 'allowed'), '-I', 'rm', '-n', 'xenrel-provenance', '-s', join(dir, 'sig')],
      {
        input: pae(env.payloadType, Buffer.from(env.payload, 'base64')),
      },
    );
    expect(check.status, check.stderr.toString()).toBe(0);

    for (const key of [`${sshA}.pub`, sshA]) {
      const ok = await verify(project, 'ssh', ['--key', key]);
      expect(ok.code, ok.stderr + ok.stdout).toBe(0);
      expect(ok.stdout).toContain(`(signed by ${fp})`);
    }
    const wrong = await verify(project, 'ssh', ['--key', `${sshB}.pub`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('provenance: DSSE signature: made by a key other than --key, or over other bytes');
  }, 120_000);
});

describe('verify --provenance refuses', () => {
  it('provenance for another tarball, and a modified tarball', async () => {
    const other = await release(project, 'other', ['--level', '1']);
    expect(other.code, other.stderr).toBe(0);
    const otherSha = sha256(await readFile(join(project, 'other', TARBALL)));
    const wrong = await cli(project, [
      'verify',
      join(project, 'other', TARBALL),
      '--provenance',
      join(project, 'out', PROVENANCE),
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain(
      `provenance: subject sha256 ${sha256(await readFile(join(project, 'out', TARBALL)))} ≠ the tarball's ${otherSha}`,
    );

    const mod = await tmp.make();
    await copyFile(join(project, 'out', TARBALL), join(mod, TARBALL));
    await appendFile(join(mod, TARBALL), Buffer.alloc(512));
    const modified = await cli(project, [
      'verify',
      join(mod, TARBALL),
      '--provenance',
      join(project, 'out', PROVENANCE),
    ]);
    expect(modified.code).toBe(1);
    expect(modified.stdout).toMatch(/provenance: subject sha256 [0-9a-f]{64} ≠ the tarball's [0-9a-f]{64}/);
  }, 120_000);

  it('a changed dependency, re-signed with the right key: the signature verifies, the dependency check fails', async () => {
    const s = JSON.parse(statementBytes);
    const seabiosDep = s.predicate.buildDefinition.resolvedDependencies.find((d: any) => d.name === 'seabios');
    const locked = seabiosDep.digest.gitCommit;
    seabiosDep.digest.gitCommit = 'a'.repeat(40);
    const body = Buffer.from(JSON.stringify(s));
    const type = 'application/vnd.in-toto+json';
    const armored = execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-f', sshA, '-n', 'xenrel-provenance'], {
      input: pae(type, body),
    });
    const dir = await tmp.make();
    const file = join(dir, PROVENANCE);
    await writeFile(
      file,
      `${JSON.stringify({ payloadType: type, payload: body.toString('base64'), signatures: [{ keyid: 'x', sig: armored.toString('base64') }] })}\n`,
    );
    const r = await cli(project, [
      'verify',
      join(project, 'out', TARBALL),
      '--provenance',
      file,
      '--key',
      `${sshA}.pub`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`provenance: dependency seabios: gitCommit ${'a'.repeat(40)} ≠ lock ${locked}`);
    expect(r.stdout).not.toContain('DSSE signature');

    // The same edit in the project's commit is named as such.
    const p = JSON.parse(statementBytes);
    p.predicate.buildDefinition.resolvedDependencies[0].digest.gitCommit = 'b'.repeat(40);
    await writeFile(file, `${JSON.stringify(p)}\n`);
    const proj = await cli(project, ['verify', join(project, 'out', TARBALL), '--provenance', file]);
    expect(proj.code).toBe(1);
    expect(proj.stdout).toMatch(new RegExp(`provenance: project commit ${'b'.repeat(40)} ≠ release.json [0-9a-f]{40}`));
  }, 120_000);

  it('an unsigned statement when --key is given, and malformed JSON (file:line:col)', async () => {
    const r = await verify(project, 'out', ['--key', keyAFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('is not signed, and --key asks for a signature');

    const dir = await tmp.make();
    const file = join(dir, 'bad.intoto.jsonl');
    await writeFile(file, '\n{"_type": "https://in-toto.io/Statement/v1", "subject": [}\n');
    const bad = await cli(project, ['verify', join(project, 'out', TARBALL), '--provenance', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`${file.replace(/[.]/g, '\\.')}:2:\\d+: invalid JSON`));
  }, 120_000);
});
