import { XENREL_VERSION } from '../version.js';
import { isoSeconds, uuidFromHex, type SbomInventory, type SbomItem } from './inventory.js';

/**
 * SPDX 2.3 JSON. One package for the project (what the document DESCRIBES), one per
 * component and nested source, related by CONTAINS; a detected license file is a File
 * element the package CONTAINS. Nothing is analysed file by file (`filesAnalyzed: false`),
 * so the concluded license is NOASSERTION and the manifest's license is the declared one.
 * Git sources: `downloadLocation` in the spec's VCS form `git+<url>@<commit>`; the
 * xenrel tree hash (not an SPDX algorithm) is an annotation.
 */

const TOOL = `Tool: xenrel-${XENREL_VERSION}`;

/** A license expression SPDX can parse: ids, LicenseRef-…, AND/OR/WITH and parentheses. */
export function isSpdxExpression(s: string): boolean {
  const tokens = s.replace(/[()]/g, ' ').trim().split(/\s+/);
  if (!tokens.length || !tokens[0]) return false;
  let wantId = true;
  for (const t of tokens) {
    if (wantId) {
      if (!/^[A-Za-z0-9][A-Za-z0-9.-]*\+?$|^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/.test(t)) return false;
      wantId = false;
    } else {
      if (!/^(AND|OR|WITH)$/.test(t)) return false;
      wantId = true;
    }
  }
  return !wantId;
}

/** `SPDXRef-` + [A-Za-z0-9.-]; distinct inputs stay distinct via a suffix. */
function idMaker() {
  const used = new Set<string>();
  return (kind: string, name: string): string => {
    const base = `SPDXRef-${kind}-${name.replace(/[^A-Za-z0-9.-]+/g, '-')}`;
    let id = base;
    for (let i = 2; used.has(id); i++) id = `${base}-${i}`;
    used.add(id);
    return id;
  };
}

export function spdxDownloadLocation(item: SbomItem): string {
  if (!item.url) return 'NOASSERTION';
  if (item.commit) return `${item.url.startsWith('git+') ? '' : 'git+'}${item.url}@${item.commit}`;
  return item.url;
}

export function toSpdx(inv: SbomInventory): Record<string, unknown> {
  const id = idMaker();
  const created = isoSeconds(inv.created);
  const docName = inv.version ? `${inv.name}-${inv.version}` : inv.name;
  const rootId = id('Package', inv.name);
  const packages: Record<string, unknown>[] = [
    {
      SPDXID: rootId,
      name: inv.name,
      ...(inv.version ? { versionInfo: inv.version } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: 'NOASSERTION',
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: 'SOURCE',
      comment: 'The release: the project tree with every external source it builds from vendored under .xenrel/sources/.',
    },
  ];
  const files: Record<string, unknown>[] = [];
  const relationships: Record<string, unknown>[] = [{ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: rootId }];
  const refs = new Set<string>();
  const idOf = new Map<string, string>();
  for (const item of inv.items) {
    const pid = id('Package', item.id);
    idOf.set(item.id, pid);
    const checksums = [
      ...(item.sha256 ? [{ algorithm: 'SHA256', checksumValue: item.sha256 }] : []),
      ...(item.sha512 ? [{ algorithm: 'SHA512', checksumValue: item.sha512 }] : []),
    ];
    const declared = item.license && isSpdxExpression(item.license) ? item.license : 'NOASSERTION';
    for (const m of declared.matchAll(/LicenseRef-[A-Za-z0-9.-]+/g)) refs.add(m[0]);
    const notes = [
      `xenrel ${item.kind} source, placed at ${item.path}.`,
      ...(item.commit ? [`git commit ${item.commit}${item.version ? ` (${item.version})` : ''}.`] : []),
      ...(item.patches?.length ? [`patched at vendor time with ${item.patches.map((p) => p.file).join(', ')}.`] : []),
    ];
    const annotations = [
      ...(item.tree ? [`xenrel tree hash of the upstream content: ${item.tree}`] : []),
      ...(item.vendoredTree ? [`xenrel tree hash of the vendored folder (nested sources and patches applied): ${item.vendoredTree}`] : []),
      ...(item.patches ?? []).map((p) => `xenrel patch ${p.file}: ${p.integrity}`),
    ].map((comment) => ({ annotationType: 'OTHER', annotator: TOOL, annotationDate: created, comment }));
    packages.push({
      SPDXID: pid,
      name: item.name,
      ...(item.version ? { versionInfo: item.version } : {}),
      ...(item.url && !item.commit ? { packageFileName: item.url.replace(/[?#].*$/, '').split('/').pop() } : {}),
      downloadLocation: spdxDownloadLocation(item),
      filesAnalyzed: false,
      ...(checksums.length ? { checksums } : {}),
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declared,
      ...(item.license && declared === 'NOASSERTION' ? { licenseComments: `The config says: ${item.license}` } : {}),
      copyrightText: 'NOASSERTION',
      primaryPackagePurpose: item.groups?.includes('firmware') ? 'FIRMWARE' : 'SOURCE',
      ...(item.description ? { description: item.description } : {}),
      sourceInfo: notes.join(' '),
      ...(annotations.length ? { annotations } : {}),
    });
    relationships.push({ spdxElementId: item.parent ? idOf.get(item.parent)! : rootId, relationshipType: 'CONTAINS', relatedSpdxElement: pid });
    if (item.licenseFile) {
      const fid = id('File', `${item.id}-${item.licenseFile.path}`);
      files.push({
        SPDXID: fid,
        fileName: `./${item.licenseFile.path}`,
        fileTypes: ['TEXT', 'DOCUMENTATION'],
        checksums: [
          { algorithm: 'SHA1', checksumValue: item.licenseFile.sha1 },
          { algorithm: 'SHA256', checksumValue: item.licenseFile.sha256 },
        ],
        licenseConcluded: 'NOASSERTION',
        licenseInfoInFiles: ['NOASSERTION'],
        copyrightText: 'NOASSERTION',
        comment: `The license file of ${item.name}, detected by xenrel.`,
      });
      relationships.push({ spdxElementId: pid, relationshipType: 'CONTAINS', relatedSpdxElement: fid });
    }
  }
  const doc: Record<string, unknown> = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: docName,
    documentNamespace: `https://spdx.org/spdxdocs/${docName.replace(/[^A-Za-z0-9._-]+/g, '-')}-${uuidFromHex(inv.lockSha256)}`,
    creationInfo: { created, creators: [TOOL], comment: `Generated by xenrel from ${inv.name}'s xenrel.lock (sha256 of the lock and options: ${inv.lockSha256}).` },
    packages,
    ...(files.length ? { files } : {}),
    relationships,
  };
  if (refs.size)
    doc.hasExtractedLicensingInfos = [...refs].sort().map((licenseId) => ({
      licenseId,
      name: licenseId.slice('LicenseRef-'.length),
      extractedText: `A license named by the xenrel config; its text is the license file of the component (see that package's files).`,
    }));
  return doc;
}
