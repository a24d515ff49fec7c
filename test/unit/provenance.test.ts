import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pae } from '../../src/provenance/dsse.js';
import { keyRef } from '../../src/provenance/key-kind.js';
import { parseProvenance } from '../../src/provenance/parse.js';
import { buildProvenance, canonicalJson, resolvedDependencies, sriToDigest } from '../../src/provenance/statement.js';
import { verifyProvenance } from '../../src/provenance/verify-provenance.js';
import type { Lockfile } from '../../src/model/lock.js';
import { tempDirs } from '../helpers/tmp.js';

const tmp = tempDirs();
afterAll(() => tmp.cleanup());

const TREE = `sha256-${Buffer.alloc(32, 1).toString('base64')}`;
const C1 = '1'.repeat(40);
const C2 = '2'.repeat(40);
const SRI = `sha512-${createHash('sha512').update('bytes').digest('base64')}`;

const lock: Lockfile = {
  lockfileVersion: 1,
  name: 'xen',
  components: {
    'qemu-xen': {
      git: 'https://xenbits.example.invalid/qemu-xen.git',
      ref: 'qemu-xen-9.0.0',
      commit: C1,
      tree: TREE,
      path: 'tools/qemu-xen-dir-remote',
      children: {
        'roms/seabios': { kind: 'submodule', git: 'https://example.invalid/seabios.git', commit: C2, tree: TREE },
      },
      vendoredTree: TREE,
    },
    zlib: {
      url: 'https://example.invalid/zlib-1.2.3.tar.gz',
      integrity: SRI,
      size: 5,
      path: 'stubdom/zlib-1.2.3.tar.gz',
    },
    ovmf: { local: 'prebuilt/ovmf', tree: TREE, path: 'tools/firmware/ovmf-dir-remote' },
  },
};

describe('DSSE pre-authentication encoding', () => {
  it("is the specification's example byte for byte", () => {
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
  });
  it('counts bytes, not characters', () => {
    expect(pae('t', Buffer.from('é')).toString()).toBe('DSSEv1 1 t 2 é');
  });
});

describe('the statement', () => {
  it('writes the digest the lock pins, in hex, keyed by its algorithm', () => {
    expect(sriToDigest(SRI)).toEqual({ sha512: createHash('sha512').update('bytes').digest('hex') });
    expect(sriToDigest(`sha256-${createHash('sha256').update('x').digest('base64')}`)).toEqual({
      sha256: createHash('sha256').update('x').digest('hex'),
    });
  });

  it('lists the project, then the components by name with their nested sources; left-out ones are absent', () => {
    const deps = resolvedDependencies(lock, { tree: TREE }, ['zlib']);
    expect(deps.map((d) => [d.name, d.annotations?.xenrelRole, Object.keys(d.digest ?? {})])).toEqual([
      ['xen', 'project', ['xenrelTree']],
      ['ovmf', 'component', ['xenrelTree']],
      ['qemu-xen', 'component', ['gitCommit']],
      ['qemu-xen/roms/seabios', 'nested', ['gitCommit']],
    ]);
    expect(deps[0]!.uri).toBeUndefined();
    expect(deps[0]!.digest!.xenrelTree).toBe(Buffer.alloc(32, 1).toString('hex'));
    expect(deps[3]).toEqual({
      name: 'qemu-xen/roms/seabios',
      uri: 'https://example.invalid/seabios.git',
      digest: { gitCommit: C2 },
      annotations: { xenrelRole: 'nested', tree: TREE },
    });
  });

  it('is canonical: the same input in any key order gives the same bytes', () => {
    const input = {
      tarball: { name: 'xen-4.22.0.tar.gz', sha256: 'f'.repeat(64) },
      lock,
      parameters: {
        prefix: 'xen-4.22.0',
        version: '4.22.0',
        compression: { format: 'gz', level: 9 },
        sourceDateEpoch: 1,
        without: ['zlib'],
        project: { commit: C1 },
      },
      project: { tree: TREE, commit: C1 },
    };
    const reordered = {
      ...input,
      lock: {
        components: Object.fromEntries(Object.entries(lock.components).reverse()),
        name: 'xen',
        lockfileVersion: 1,
      } as Lockfile,
    };
    const a = canonicalJson(buildProvenance(input));
    expect(canonicalJson(buildProvenance(reordered))).toBe(a);
    expect(
      a.startsWith(
        '{"_type":"https://in-toto.io/Statement/v1","predicate":{"buildDefinition":{"buildType":"https://xenrel.dev/release/v1",',
      ),
    ).toBe(true);
    expect(a).not.toMatch(/\s/);
  });
});

describe('parsing a .intoto.jsonl', () => {
  const statement = () =>
    JSON.parse(
      canonicalJson(
        buildProvenance({
          tarball: { name: 't.tar.gz', sha256: 'f'.repeat(64) },
          lock,
          parameters: {
            prefix: 't',
            version: '1',
            compression: { format: 'gz', level: 9 },
            sourceDateEpoch: 1,
            without: [],
            project: {},
          },
          project: { tree: TREE },
        }),
      ),
    );

  it('a bare statement and an envelope', () => {
    const line = JSON.stringify(statement());
    expect(parseProvenance(`${line}\n`, 'p').envelope).toBeUndefined();
    const env = JSON.stringify({
      payloadType: 'application/vnd.in-toto+json',
      payload: Buffer.from(line).toString('base64'),
      signatures: [{ keyid: 'k', sig: 'AAAA' }],
    });
    const parsed = parseProvenance(`${env}\n`, 'p');
    expect(parsed.envelope?.signatures[0]?.keyid).toBe('k');
    expect(parsed.payload.toString()).toBe(line);
    expect(parsed.statement.subject[0]!.digest!.sha256).toBe('f'.repeat(64));
  });

  it.each([
    ['', /^p:1:1: expected one attestation line, found 0$/],
    ['{"a":1}\n{"b":2}\n', /^p:1:1: expected one attestation line, found 2$/],
    ['\n\n{"_type": tru}\n', /^p:3:\d+: invalid JSON/],
    [
      '{"payloadType":"text/plain","payload":"","signatures":[{"sig":"AA=="}]}',
      /^p:1:\d+: payloadType: expected "application\/vnd\.in-toto\+json"$/,
    ],
  ])('%j is refused at file:line:col', (text, message) => {
    expect(() => parseProvenance(text, 'p')).toThrow(message);
  });

  it('a schema problem names the key path at its position', () => {
    const s = statement();
    s.subject = [{ name: 'x' }];
    const text = `\n${JSON.stringify(s, null, 1).replace(/\n/g, ' ')}\n`;
    expect(() => parseProvenance(text, 'p')).toThrow(/^p:2:\d+: subject\[0\]: a resource needs a uri or a digest$/);
    s.subject = [{ uri: 'https://x.invalid/' }];
    expect(() => parseProvenance(JSON.stringify(s), 'p')).toThrow(/^p:1:\d+: subject\[0\]: a subject needs a digest$/);
  });
});

describe('what KEY names', () => {
  it('an OpenSSH private key, a public key, a file with .pub beside it, an OpenPGP file, else an id', async () => {
    const d = await tmp.make();
    const pubLine = `ssh-ed25519 ${Buffer.alloc(51, 7).toString('base64')} me@host`;
    await writeFile(join(d, 'id'), '-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n-----END OPENSSH PRIVATE KEY-----\n');
    await writeFile(join(d, 'id.pub'), `${pubLine}\n`);
    await writeFile(join(d, 'agent.pub'), `${pubLine}\n`);
    await writeFile(join(d, 'other'), 'whatever');
    await writeFile(join(d, 'other.pub'), 'not a key');
    await writeFile(join(d, 'key.asc'), '-----BEGIN PGP PUBLIC KEY BLOCK-----\n');
    expect(await keyRef(join(d, 'id'))).toEqual({ kind: 'ssh', file: join(d, 'id'), publicKey: pubLine });
    expect(await keyRef(join(d, 'agent.pub'))).toEqual({ kind: 'ssh', file: join(d, 'agent.pub'), publicKey: pubLine });
    expect(await keyRef(join(d, 'other'))).toEqual({ kind: 'ssh', file: join(d, 'other') });
    expect(await keyRef(join(d, 'key.asc'))).toEqual({ kind: 'gpg-file', file: join(d, 'key.asc') });
    expect(await keyRef('Release Manager <rm@xen.invalid>')).toEqual({
      kind: 'gpg-id',
      id: 'Release Manager <rm@xen.invalid>',
    });
    expect(await keyRef(d)).toEqual({ kind: 'gpg-id', id: d });
  });
});

describe('verifyProvenance (library)', () => {
  const SHA = 'e'.repeat(64);
  const make = (without: string[] = []) =>
    JSON.parse(
      canonicalJson(
        buildProvenance({
          tarball: { name: 'xen-4.22.0.tar.gz', sha256: SHA },
          lock,
          parameters: {
            prefix: 'xen-4.22.0',
            version: '4.22.0',
            compression: { format: 'gz', level: 9 },
            sourceDateEpoch: 1,
            without,
            project: { commit: C1 },
          },
          project: { tree: TREE, commit: C1 },
        }),
      ),
    );
  const check = async (statement: unknown, o: { sha?: string; commit?: string } = {}) => {
    const file = join(await tmp.make(), 'p.intoto.jsonl');
    await writeFile(file, `${JSON.stringify(statement)}\n`);
    return verifyProvenance({
      file,
      display: 'p',
      tarballSha256: o.sha ?? SHA,
      lock,
      project: { commit: o.commit ?? C1, tree: TREE },
    });
  };

  it('accepts what release writes, with and without left-out components', async () => {
    expect((await check(make())).problems).toEqual([]);
    expect((await check(make(['zlib']))).ok).toBe(true);
  });

  it('names each difference: a missing, an extra, a doubled dependency, an unknown left-out name, the subject, the commit', async () => {
    const s = make();
    const deps = s.predicate.buildDefinition.resolvedDependencies;
    const zlib = deps.findIndex((d: { name: string }) => d.name === 'zlib');
    deps.splice(zlib, 1);
    deps.push({
      name: 'evil',
      uri: 'https://evil.invalid/x.tar.gz',
      digest: { sha256: 'a'.repeat(64) },
      annotations: { xenrelRole: 'component' },
    });
    deps.push(deps[1]);
    s.predicate.buildDefinition.externalParameters.without = ['nope'];
    const r = await check(s, { sha: 'd'.repeat(64), commit: C2 });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      `provenance: subject sha256 ${SHA} ≠ the tarball's ${'d'.repeat(64)}`,
      'provenance: left out "nope", which the lock does not have',
      'provenance: dependency ovmf: listed twice',
      'provenance: dependency zlib: missing (the lock pins it)',
      'provenance: dependency evil: not in the lock',
      `provenance: project commit ${C1} ≠ release.json ${C2}`,
    ]);
  });

  it('a changed uri, digest or annotation is named field by field', async () => {
    const s = make();
    const q = s.predicate.buildDefinition.resolvedDependencies.find((d: { name: string }) => d.name === 'qemu-xen');
    q.uri = 'https://mirror.invalid/qemu-xen.git';
    q.annotations.ref = 'master';
    const r = await check(s);
    expect(r.problems).toEqual([
      'provenance: dependency qemu-xen: uri https://mirror.invalid/qemu-xen.git ≠ lock https://xenbits.example.invalid/qemu-xen.git',
      'provenance: dependency qemu-xen: ref master ≠ lock qemu-xen-9.0.0',
    ]);
  });
});
