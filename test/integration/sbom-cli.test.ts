import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DTC_COPYING, NEWLIB_COPYING, SEABIOS_COPYING, SourcesWorld, sha256Hex } from '../helpers/sources-project.js';
import { cycloneDxErrors, spdxErrors } from '../helpers/sbom-validate.js';
import { runInProcess } from '../helpers/in-process.js';

let w: SourcesWorld;
let dir: string;
let lock: {
  components: Record<
    string,
    { commit?: string; tree?: string; integrity?: string; children?: Record<string, { commit: string; tree: string }> }
  >;
};

beforeAll(async () => {
  w = await SourcesWorld.create();
  dir = await w.project();
  lock = JSON.parse(await readFile(join(dir, 'xenrel.lock'), 'utf8'));
}, 120_000);
afterAll(async () => w?.cleanup());

type Pkg = {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  downloadLocation: string;
  checksums?: { algorithm: string; checksumValue: string }[];
  licenseDeclared?: string;
  annotations?: { comment: string }[];
  supplier?: string;
  originator?: string;
  primaryPackagePurpose?: string;
  externalRefs?: { referenceCategory: string; referenceType: string; referenceLocator: string }[];
};
type Spdx = {
  packages: Pkg[];
  hasExtractedLicensingInfos?: { licenseId: string; extractedText: string }[];
  files: { SPDXID: string; fileName: string; checksums: { algorithm: string; checksumValue: string }[] }[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
  creationInfo: { created: string };
  documentNamespace: string;
};

describe('xenrel sbom', () => {
  it('SPDX 2.3: every component and nested source, download locations, checksums, licenses, license files, CONTAINS', async () => {
    const r = await w.cli(dir, ['sbom']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Spdx;
    expect(spdxErrors(doc)).toEqual([]);
    const pkg = (name: string) => doc.packages.find((p) => p.name === name)!;
    expect(doc.packages.map((p) => p.name)).toEqual(['xen', 'newlib', 'qemu-xen', 'qemu-xen/roms/dtc', 'seabios']);
    expect(pkg('xen').versionInfo).toBe('4.22.0');
    const seabios = pkg('seabios');
    expect(seabios.versionInfo).toBe('rel-1.17.0');
    expect(seabios.downloadLocation).toBe(`git+${w.seabios.url}@${lock.components.seabios!.commit}`);
    expect(seabios.licenseDeclared).toBe('LGPL-3.0-only');
    expect(seabios.annotations!.map((a) => a.comment).join('\n')).toContain(lock.components.seabios!.tree!);
    const dtc = pkg('qemu-xen/roms/dtc');
    expect(dtc.downloadLocation).toBe(`git+${w.dtc.url}@${lock.components['qemu-xen']!.children!['roms/dtc']!.commit}`);
    const newlib = pkg('newlib');
    expect(newlib.versionInfo).toBe('1.16.0');
    expect(newlib.downloadLocation).toBe(`${w.server.url}/newlib-1.16.0.tar.gz`);
    expect(newlib.checksums).toEqual([
      { algorithm: 'SHA256', checksumValue: sha256Hex(w.newlibTgz) },
      {
        algorithm: 'SHA512',
        checksumValue: Buffer.from(lock.components.newlib!.integrity!.slice(7), 'base64').toString('hex'),
      },
    ]);
    expect(newlib.licenseDeclared).toBe('LicenseRef-newlib');
    // The xen package CONTAINS each component; qemu-xen CONTAINS its submodule.
    const rel = (a: string, t: string, b: string) =>
      doc.relationships.some((x) => x.spdxElementId === a && x.relationshipType === t && x.relatedSpdxElement === b);
    expect(rel('SPDXRef-DOCUMENT', 'DESCRIBES', pkg('xen').SPDXID)).toBe(true);
    for (const n of ['seabios', 'qemu-xen', 'newlib'])
      expect(rel(pkg('xen').SPDXID, 'CONTAINS', pkg(n).SPDXID)).toBe(true);
    expect(rel(pkg('qemu-xen').SPDXID, 'CONTAINS', dtc.SPDXID)).toBe(true);
    expect(rel(pkg('xen').SPDXID, 'CONTAINS', dtc.SPDXID)).toBe(false);
    // License files, hashed from the cache (git blob: COPYING over COPYING.LESSER; the
    // submodule; the tarball): annotations, since a filesAnalyzed:false package holds no files.
    expect(doc.files ?? []).toEqual([]);
    const licenseOf = (p: Pkg) =>
      p.annotations
        ?.map((a) => /^license file (\S+): sha256 ([0-9a-f]{64})$/.exec(a.comment))
        .find(Boolean)
        ?.slice(1);
    expect(licenseOf(seabios)).toEqual(['COPYING', sha256Hex(SEABIOS_COPYING)]);
    expect(licenseOf(dtc)).toEqual(['COPYING', sha256Hex(DTC_COPYING)]);
    expect(licenseOf(newlib)).toEqual(['COPYING.NEWLIB', sha256Hex(NEWLIB_COPYING)]);
    // The config's LicenseRef-newlib quotes the component's own license file.
    expect(doc.hasExtractedLicensingInfos).toContainEqual(
      expect.objectContaining({ licenseId: 'LicenseRef-newlib', extractedText: NEWLIB_COPYING }),
    );
    // Identities scanners match on: purl for every package, CPE where the NVD has the product.
    const ref = (p: Pkg, type: string) => p.externalRefs?.find((r) => r.referenceType === type)?.referenceLocator;
    for (const p of doc.packages) expect(ref(p, 'purl'), p.name).toMatch(/^pkg:generic\//);
    expect(ref(newlib, 'purl')).toBe(
      `pkg:generic/newlib@1.16.0?checksum=${encodeURIComponent(`sha256:${sha256Hex(w.newlibTgz)},sha512:${newlib.checksums![1]!.checksumValue}`)}&download_url=${encodeURIComponent(`${w.server.url}/newlib-1.16.0.tar.gz`)}`,
    );
    expect(ref(seabios, 'purl')).toBe(
      `pkg:generic/seabios@rel-1.17.0?vcs_url=${encodeURIComponent(`git+${w.seabios.url}@${lock.components.seabios!.commit}`)}`,
    );
    expect(ref(newlib, 'cpe23Type')).toBe('cpe:2.3:a:newlib_project:newlib:1.16.0:*:*:*:*:*:*:*');
    expect(ref(seabios, 'cpe23Type')).toBe('cpe:2.3:a:seabios:seabios:1.17.0:*:*:*:*:*:*:*');
    // qemu-xen's tags are Xen versions, not QEMU's: any version, rather than a wrong one.
    expect(ref(pkg('qemu-xen'), 'cpe23Type')).toBe('cpe:2.3:a:qemu:qemu:*:*:*:*:*:*:*:*');
    expect(ref(dtc, 'cpe23Type')).toBeUndefined();
    // Who distributes the bytes is the URL's host; a file:// repository has none.
    expect(newlib.supplier).toBe('Organization: 127.0.0.1');
    expect(seabios.supplier).toBe('NOASSERTION');
    expect(seabios.originator).toBe('Organization: SeaBIOS');
    expect(seabios.primaryPackagePurpose).toBe('FIRMWARE');
    expect(doc.creationInfo.created).toBe('2026-01-01T00:00:00Z');
  });

  it('CycloneDX 1.5 validates against the official schema, with nested components, VCS references and hashes', async () => {
    const out = join(dir, 'xen.cdx.json');
    const r = await w.cli(dir, ['sbom', '--format', 'cyclonedx', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const bom = JSON.parse(await readFile(out, 'utf8'));
    expect(await cycloneDxErrors(bom)).toEqual([]);
    expect(bom.specVersion).toBe('1.5');
    expect(bom.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const byName = Object.fromEntries(bom.components.map((c: { name: string }) => [c.name, c]));
    expect(Object.keys(byName)).toEqual(['newlib', 'qemu-xen', 'seabios']);
    expect(byName.seabios.type).toBe('firmware');
    expect(byName.seabios.externalReferences).toEqual([{ type: 'vcs', url: w.seabios.url }]);
    expect(byName.seabios.pedigree.commits[0].uid).toBe(lock.components.seabios!.commit);
    expect(byName.seabios.licenses).toEqual([{ expression: 'LGPL-3.0-only' }]);
    expect(byName.seabios.properties).toContainEqual({
      name: 'xenrel:licenseFile:sha256',
      value: sha256Hex(SEABIOS_COPYING),
    });
    expect(byName['qemu-xen'].components.map((c: { name: string }) => c.name)).toEqual(['qemu-xen/roms/dtc']);
    expect(byName.newlib.hashes).toContainEqual({ alg: 'SHA-256', content: sha256Hex(w.newlibTgz) });
    expect(byName.newlib.externalReferences).toEqual([
      { type: 'distribution', url: `${w.server.url}/newlib-1.16.0.tar.gz` },
    ]);
    expect(bom.dependencies).toContainEqual({ ref: 'qemu-xen', dependsOn: ['qemu-xen/roms/dtc'] });
    // The same identities as the SPDX document.
    const spdx = JSON.parse((await w.cli(dir, ['sbom'])).stdout) as Spdx;
    for (const name of ['newlib', 'qemu-xen', 'seabios']) {
      const p = spdx.packages.find((x) => x.name === name)!;
      expect(byName[name].purl, name).toBe(p.externalRefs!.find((r) => r.referenceType === 'purl')!.referenceLocator);
      expect(byName[name].cpe, name).toBe(
        p.externalRefs!.find((r) => r.referenceType === 'cpe23Type')?.referenceLocator,
      );
      expect(byName[name].supplier ? `Organization: ${byName[name].supplier.name}` : 'NOASSERTION').toBe(p.supplier);
    }
    expect(byName.newlib.type).toBe('library');
    expect(bom.metadata.timestamp).toBe('2026-01-01T00:00:00Z');
  });

  it('is deterministic: same lock, same bytes; the id follows the lock, the time SOURCE_DATE_EPOCH', async () => {
    const a = await w.cli(dir, ['sbom']);
    const b = await w.cli(dir, ['sbom']);
    expect(a.stdout).toBe(b.stdout);
    const c = await w.cli(dir, ['sbom'], { SOURCE_DATE_EPOCH: '1700000000' });
    expect(JSON.parse(c.stdout).creationInfo.created).toBe('2023-11-14T22:13:20Z');
    expect(JSON.parse(c.stdout).documentNamespace).toBe(JSON.parse(a.stdout).documentNamespace);
    const other = await w.cli(dir, ['sbom', '--without', 'newlib']);
    expect(other.code, other.stderr).toBe(0);
    const doc = JSON.parse(other.stdout) as Spdx;
    expect(spdxErrors(doc)).toEqual([]);
    expect(doc.packages.map((p) => p.name)).not.toContain('newlib');
    expect(doc.documentNamespace).not.toBe(JSON.parse(a.stdout).documentNamespace);
  });

  it('with an empty cache: lock facts only (no sha256, no license files), still valid', async () => {
    const empty = await w.tmp.make('xenrel-empty-cache-');
    const r = await runInProcess(['sbom', '--cache', empty, '--format', 'spdx'], { cwd: dir, env: w.env });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Spdx;
    expect(spdxErrors(doc)).toEqual([]);
    expect(doc.files ?? []).toEqual([]);
    expect(doc.packages.find((p) => p.name === 'newlib')!.checksums!.map((c) => c.algorithm)).toEqual(['SHA512']);
    const cdx = await runInProcess(['sbom', '--cache', empty, '--format', 'cyclonedx'], { cwd: dir, env: w.env });
    expect(await cycloneDxErrors(JSON.parse(cdx.stdout))).toEqual([]);
  });

  it('the validators catch broken documents (so the checks above can fail)', async () => {
    const r = await w.cli(dir, ['sbom']);
    const doc = JSON.parse(r.stdout);
    doc.relationships.push({
      spdxElementId: 'SPDXRef-Package-xen',
      relationshipType: 'INCLUDES',
      relatedSpdxElement: 'SPDXRef-nope',
    });
    doc.packages[1].checksums = [{ algorithm: 'SHA256', checksumValue: 'XYZ' }];
    const errs = spdxErrors(doc).join('\n');
    expect(errs).toContain('relationshipType');
    expect(errs).toContain('unknown element SPDXRef-nope');
    expect(errs).toContain('checksumValue');
    // The spec rules a schema cannot state.
    const bad = JSON.parse(r.stdout);
    bad.files = [
      {
        SPDXID: 'SPDXRef-File-x',
        fileName: './COPYING',
        checksums: [{ algorithm: 'SHA1', checksumValue: 'a'.repeat(40) }],
        licenseConcluded: 'NOASSERTION',
        copyrightText: 'NOASSERTION',
      },
    ];
    bad.relationships.push({
      spdxElementId: bad.packages[1].SPDXID,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: 'SPDXRef-File-x',
    });
    bad.packages[1].externalRefs = [
      { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'generic/newlib' },
      { referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: 'cpe:2.3:a:gnu:newlib 1' },
    ];
    bad.packages[1].supplier = 'newlib people';
    bad.hasExtractedLicensingInfos[0].extractedText = '';
    const rules = spdxErrors(bad).join('\n');
    expect(rules).toContain('filesAnalyzed is false but it CONTAINS the file SPDXRef-File-x');
    expect(rules).toContain('is not a package URL');
    expect(rules).toContain('is not a CPE 2.3 formatted string');
    expect(rules).toContain('supplier "newlib people"');
    expect(rules).toContain('extractedText is empty');
    const c = JSON.parse((await w.cli(dir, ['sbom', '--format', 'cyclonedx'])).stdout);
    c.components[0].hashes = [{ alg: 'SHA-257', content: 'ab' }];
    expect((await cycloneDxErrors(c)).join('\n')).toMatch(/alg|content/);
  });

  it('usage errors: unknown format, unknown --without, no lock, bad SOURCE_DATE_EPOCH', async () => {
    const bad = await w.cli(dir, ['sbom', '--format', 'swid']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--format must be one of spdx, cyclonedx');
    const wo = await w.cli(dir, ['sbom', '--without', 'seabioz']);
    expect(wo.code).toBe(2);
    expect(wo.stderr).toContain('seabioz');
    const epoch = await w.cli(dir, ['sbom'], { SOURCE_DATE_EPOCH: 'soon' });
    expect(epoch.code).toBe(2);
    const nolock = await w.tmp.make();
    await writeFile(join(nolock, 'xenrel.config.yaml'), w.config());
    const n = await w.cli(nolock, ['sbom']);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain('no lockfile');
    await rm(nolock, { recursive: true, force: true });
  });
});
