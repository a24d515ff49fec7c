import { XENREL_VERSION } from '../version.js';
import { isoSeconds, uuidFromHex, type SbomInventory, type SbomItem } from './inventory.js';
import { isSpdxExpression } from './spdx.js';
import { cpeOf, isFirmware, purlOf, supplierOf } from './identity.js';

/**
 * CycloneDX 1.5 JSON. The project is `metadata.component`; each component is a top-level
 * component and its nested sources are its nested `components` (CycloneDX's "contains").
 * Git sources carry a `vcs` external reference and their commit in `pedigree.commits`;
 * tarballs a `distribution` reference and their hashes. xenrel's own facts (tree hashes,
 * path, license file, patches) are `xenrel:*` properties. The identities (purl, CPE,
 * supplier) are the SPDX document's; SeaBIOS, iPXE and OVMF are `firmware`.
 */

type Json = Record<string, unknown>;

function component(item: SbomItem, nested: Json[]): Json {
  const hashes = [
    ...(item.sha256 ? [{ alg: 'SHA-256', content: item.sha256 }] : []),
    ...(item.sha512 ? [{ alg: 'SHA-512', content: item.sha512 }] : []),
  ];
  const licenses = item.license
    ? [isSpdxExpression(item.license) ? { expression: item.license } : { license: { name: item.license } }]
    : [];
  const refs = item.url ? [{ type: item.commit ? 'vcs' : 'distribution', url: item.url }] : [];
  const props: [string, string][] = [
    ['xenrel:kind', item.kind],
    ['xenrel:path', item.path],
    ...(item.tree ? [['xenrel:tree', item.tree] as [string, string]] : []),
    ...(item.vendoredTree ? [['xenrel:vendoredTree', item.vendoredTree] as [string, string]] : []),
    ...(item.size !== undefined ? [['xenrel:size', String(item.size)] as [string, string]] : []),
    ...(item.licenseFile
      ? ([
          ['xenrel:licenseFile', item.licenseFile.path],
          ['xenrel:licenseFile:sha256', item.licenseFile.sha256],
        ] as [string, string][])
      : []),
    ...(item.patches ?? []).map((p) => [`xenrel:patch`, `${p.file} ${p.integrity}`] as [string, string]),
  ];
  const pedigree: Json = {};
  if (item.commit)
    pedigree.commits = [
      { uid: item.commit, ...(item.url && /^[a-z][a-z0-9+.-]*:/i.test(item.url) ? { url: item.url } : {}) },
    ];
  if (item.patches?.length) pedigree.patches = item.patches.map((p) => ({ type: 'unofficial', diff: { url: p.file } }));
  const supplier = supplierOf(item);
  const cpe = cpeOf(item);
  return {
    type: isFirmware(item) ? 'firmware' : 'library',
    'bom-ref': item.id,
    ...(supplier ? { supplier: { name: supplier } } : {}),
    name: item.name,
    ...((item.version ?? item.commit) ? { version: item.version ?? item.commit } : {}),
    ...(item.description ? { description: item.description } : {}),
    ...(hashes.length ? { hashes } : {}),
    ...(licenses.length ? { licenses } : {}),
    ...(cpe ? { cpe } : {}),
    purl: purlOf(item),
    ...(refs.length ? { externalReferences: refs } : {}),
    ...(Object.keys(pedigree).length ? { pedigree } : {}),
    properties: props.map(([name, value]) => ({ name, value })),
    ...(nested.length ? { components: nested } : {}),
  };
}

export function toCycloneDx(inv: SbomInventory): Json {
  const rootRef = inv.version ? `${inv.name}@${inv.version}` : `${inv.name}@project`;
  const built = new Map<string, Json>();
  const kids = new Map<string, Json[]>();
  // Children come after their parent in the inventory: build bottom-up from the end.
  for (const item of [...inv.items].reverse()) {
    const c = component(item, (kids.get(item.id) ?? []).reverse());
    built.set(item.id, c);
    if (item.parent) (kids.get(item.parent) ?? kids.set(item.parent, []).get(item.parent)!).push(c);
  }
  const top = inv.items.filter((i) => !i.parent).map((i) => built.get(i.id)!);
  const dependencies = [
    { ref: rootRef, dependsOn: inv.items.filter((i) => !i.parent).map((i) => i.id) },
    ...inv.items.map((i) => ({ ref: i.id, dependsOn: inv.items.filter((c) => c.parent === i.id).map((c) => c.id) })),
  ];
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuidFromHex(inv.lockSha256)}`,
    version: 1,
    metadata: {
      timestamp: isoSeconds(inv.created),
      tools: { components: [{ type: 'application', name: 'xenrel', version: XENREL_VERSION }] },
      component: {
        type: 'application',
        'bom-ref': rootRef,
        name: inv.name,
        ...(inv.version ? { version: inv.version } : {}),
      },
      properties: [{ name: 'xenrel:lockSha256', value: inv.lockSha256 }],
    },
    components: top,
    dependencies,
  };
}
