import { XENREL_VERSION } from '../version.js';
import { cpeOf, isFirmware, originatorOf, purlOf, supplierOf } from './identity.js';
import { isoSeconds, uuidFromHex, type SbomInventory, type SbomItem } from './inventory.js';

/**
 * SPDX 2.3 JSON. One package for the project (what the document DESCRIBES), one per
 * component and nested source, related by CONTAINS. Nothing is analysed file by file
 * (`filesAnalyzed: false`), so by the spec no package contains a File element: a detected
 * license file is an annotation (name and sha256), and its text is the extracted licensing
 * info of a LicenseRef where the config's license is not a plain SPDX expression. The
 * concluded license is NOASSERTION and the config's license is the declared one. Each
 * package names its supplier and originator and carries a purl and, where the NVD has the
 * product, a CPE 2.3 name.
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
      if (!/^[A-Za-z0-9][A-Za-z0-9.-]*\+?$|^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/.test(t))
        return false;
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
      externalRefs: [
        {
          referenceCategory: 'PACKAGE-MANAGER',
          referenceType: 'purl',
          referenceLocator: purlOf({
            id: inv.name,
            name: inv.name,
            kind: 'local',
            path: '.',
            ...(inv.version ? { version: inv.version } : {}),
          }),
        },
      ],
      primaryPackagePurpose: 'SOURCE',
      comment:
        'The release: the project tree with every external source it builds from vendored under .xenrel/sources/.',
    },
  ];
  /** LicenseRef id → its text (a license file's, where one was found). */
  const extracted = new Map<string, { name: string; text?: string }>();
  const relationships: Record<string, unknown>[] = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: rootId },
  ];
  const refs = new Set<string>();
  const idOf = new Map<string, string>();
  for (const item of inv.items) {
    const pid = id('Package', item.id);
    idOf.set(item.id, pid);
    const checksums = [
      ...(item.sha256 ? [{ algorithm: 'SHA256', checksumValue: item.sha256 }] : []),
      ...(item.sha512 ? [{ algorithm: 'SHA512', checksumValue: item.sha512 }] : []),
    ];
    const fileText = item.licenseFile?.text;
    let declared = item.license && isSpdxExpression(item.license) ? item.license : 'NOASSERTION';
    if (item.license && declared === 'NOASSERTION' && fileText) {
      // A license SPDX has no id for, with its text at hand: a LicenseRef of its own.
      declared = `LicenseRef-${item.id.replace(/[^A-Za-z0-9.-]+/g, '-')}`;
      extracted.set(declared, { name: item.license, text: fileText });
    }
    for (const m of declared.matchAll(/LicenseRef-[A-Za-z0-9.-]+/g)) {
      refs.add(m[0]);
      if (!extracted.get(m[0])?.text) extracted.set(m[0], { name: m[0].slice('LicenseRef-'.length), text: fileText });
    }
    const notes = [
      `xenrel ${item.kind} source, placed at ${item.path}.`,
      ...(item.commit ? [`git commit ${item.commit}${item.version ? ` (${item.version})` : ''}.`] : []),
      ...(item.patches?.length ? [`patched at vendor time with ${item.patches.map((p) => p.file).join(', ')}.`] : []),
    ];
    const annotations = [
      ...(item.tree ? [`xenrel tree hash of the upstream content: ${item.tree}`] : []),
      ...(item.vendoredTree
        ? [`xenrel tree hash of the vendored folder (nested sources and patches applied): ${item.vendoredTree}`]
        : []),
      ...(item.patches ?? []).map((p) => `xenrel patch ${p.file}: ${p.integrity}`),
      ...(item.licenseFile ? [`license file ${item.licenseFile.path}: sha256 ${item.licenseFile.sha256}`] : []),
    ].map((comment) => ({ annotationType: 'OTHER', annotator: TOOL, annotationDate: created, comment }));
    const supplier = supplierOf(item);
    const originator = originatorOf(item);
    const cpe = cpeOf(item);
    packages.push({
      SPDXID: pid,
      name: item.name,
      ...(item.version ? { versionInfo: item.version } : {}),
      supplier: supplier ? `Organization: ${supplier}` : 'NOASSERTION',
      ...(originator ? { originator: `Organization: ${originator}` } : {}),
      ...(item.url && !item.commit
        ? {
            packageFileName: item.url
              .replace(/[?#].*$/, '')
              .split('/')
              .pop(),
          }
        : {}),
      downloadLocation: spdxDownloadLocation(item),
      filesAnalyzed: false,
      ...(checksums.length ? { checksums } : {}),
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declared,
      ...(item.license && declared === 'NOASSERTION' ? { licenseComments: `The config says: ${item.license}` } : {}),
      copyrightText: 'NOASSERTION',
      externalRefs: [
        { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purlOf(item) },
        ...(cpe ? [{ referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: cpe }] : []),
      ],
      primaryPackagePurpose: isFirmware(item) ? 'FIRMWARE' : 'SOURCE',
      ...(item.description ? { description: item.description } : {}),
      sourceInfo: notes.join(' '),
      ...(annotations.length ? { annotations } : {}),
    });
    relationships.push({
      spdxElementId: item.parent ? idOf.get(item.parent)! : rootId,
      relationshipType: 'CONTAINS',
      relatedSpdxElement: pid,
    });
  }
  const doc: Record<string, unknown> = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: docName,
    documentNamespace: `https://spdx.org/spdxdocs/${docName.replace(/[^A-Za-z0-9._-]+/g, '-')}-${uuidFromHex(inv.lockSha256)}`,
    creationInfo: {
      created,
      creators: [TOOL],
      comment: `Generated by xenrel from ${inv.name}'s xenrel.lock (sha256 of the lock and options: ${inv.lockSha256}).`,
    },
    packages,
    relationships,
  };
  if (refs.size)
    doc.hasExtractedLicensingInfos = [...refs].sort().map((licenseId) => ({
      licenseId,
      name: extracted.get(licenseId)?.name ?? licenseId.slice('LicenseRef-'.length),
      extractedText:
        extracted.get(licenseId)?.text ??
        'A license named by the xenrel config; no license file was found in the component to quote.',
    }));
  return doc;
}
