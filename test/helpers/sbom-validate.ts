/**
 * Validates SBOMs in tests: CycloneDX 1.5 against the official schema (shipped by the
 * @cyclonedx/cyclonedx-library devDependency), SPDX 2.3 against the schema fixture written
 * from the spec (test/fixtures/schemas/README.md), plus the reference rules a JSON schema
 * cannot state (ids unique, every relationship end exists, LicenseRefs declared).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { PackageURL } from 'packageurl-js';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';

const here = dirname(fileURLToPath(import.meta.url));
const addFormats = addFormatsModule as unknown as (a: Ajv) => void;

const readJson = (f: string) => JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;

function makeAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // Draft-2019 formats the CycloneDX schema names; ajv-formats has no IRI/IDN validators.
  ajv.addFormat('iri-reference', (s: string) => s.length > 0 && !/\s/.test(s));
  ajv.addFormat('iri', (s: string) => /^[a-z][a-z0-9+.-]*:\S+$/i.test(s));
  ajv.addFormat('idn-email', (s: string) => /^[^\s@]+@[^\s@]+$/.test(s));
  return ajv;
}

let spdx: ReturnType<Ajv['compile']> | undefined;

/** The CycloneDX library's own strict JSON validator (schema 1.5 with its formats), then bom-ref rules. */
export async function cycloneDxErrors(doc: unknown): Promise<string[]> {
  const problems = (await new Validation.JsonStrictValidator(Spec.Version.v1dot5).validate(JSON.stringify(doc))) as
    | { instancePath: string; message?: string; params: unknown }[]
    | null;
  const out = (problems ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  const d = doc as {
    metadata?: { component?: { 'bom-ref'?: string } };
    components?: unknown[];
    dependencies?: { ref: string; dependsOn?: string[] }[];
  };
  const refs: string[] = [];
  if (d.metadata?.component?.['bom-ref']) refs.push(d.metadata.component['bom-ref']);
  const walk = (cs: unknown[] | undefined) => {
    for (const c of (cs ?? []) as { 'bom-ref'?: string; components?: unknown[] }[]) {
      if (c['bom-ref']) refs.push(c['bom-ref']);
      walk(c.components);
    }
  };
  walk(d.components);
  const seen = new Set<string>();
  for (const r of refs) {
    if (seen.has(r)) out.push(`bom-ref ${r} is not unique`);
    seen.add(r);
  }
  for (const dep of d.dependencies ?? [])
    for (const r of [dep.ref, ...(dep.dependsOn ?? [])])
      if (!seen.has(r)) out.push(`dependency names unknown bom-ref ${r}`);
  return out;
}

export function spdxErrors(doc: unknown): string[] {
  if (!spdx) spdx = makeAjv().compile(readJson(join(here, '..', 'fixtures', 'schemas', 'spdx-2.3.schema.json')));
  const out = spdx(doc)
    ? []
    : (spdx.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  const d = doc as {
    packages?: {
      SPDXID: string;
      licenseDeclared?: string;
      licenseConcluded?: string;
      filesAnalyzed?: boolean;
      hasFiles?: string[];
      licenseInfoFromFiles?: string[];
      packageVerificationCode?: unknown;
      supplier?: string;
      originator?: string;
      externalRefs?: { referenceCategory: string; referenceType: string; referenceLocator: string }[];
    }[];
    files?: { SPDXID: string }[];
    relationships?: { spdxElementId: string; relatedSpdxElement: string; relationshipType: string }[];
    hasExtractedLicensingInfos?: { licenseId: string; extractedText?: string }[];
  };
  const ids = ['SPDXRef-DOCUMENT', ...(d.packages ?? []).map((p) => p.SPDXID), ...(d.files ?? []).map((f) => f.SPDXID)];
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) out.push(`SPDXID ${id} is not unique`);
    seen.add(id);
  }
  for (const r of d.relationships ?? [])
    for (const id of [r.spdxElementId, r.relatedSpdxElement])
      if (!seen.has(id)) out.push(`relationship names unknown element ${id}`);
  if (
    !(d.relationships ?? []).some((r) => r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES')
  )
    out.push('the document DESCRIBES nothing');
  const declared = new Set((d.hasExtractedLicensingInfos ?? []).map((l) => l.licenseId));
  for (const p of d.packages ?? [])
    for (const l of [p.licenseDeclared, p.licenseConcluded])
      for (const m of (l ?? '').matchAll(/LicenseRef-[A-Za-z0-9.-]+/g))
        if (!declared.has(m[0])) out.push(`${p.SPDXID}: ${m[0]} is not in hasExtractedLicensingInfos`);
  for (const l of d.hasExtractedLicensingInfos ?? [])
    if (!l.extractedText?.trim())
      out.push(`${l.licenseId}: extractedText is empty (the spec wants the license's text)`);
  // SPDX 2.3 §7.8: a package with filesAnalyzed false has no files (no hasFiles, nothing it
  // CONTAINS is a File) and so no licenseInfoFromFiles or packageVerificationCode (§7.9, §7.14).
  const fileIds = new Set((d.files ?? []).map((f) => f.SPDXID));
  for (const p of d.packages ?? []) {
    if (p.filesAnalyzed !== false) continue;
    if (p.hasFiles?.length) out.push(`${p.SPDXID}: filesAnalyzed is false but it hasFiles`);
    if (p.licenseInfoFromFiles?.length) out.push(`${p.SPDXID}: filesAnalyzed is false but it has licenseInfoFromFiles`);
    if (p.packageVerificationCode) out.push(`${p.SPDXID}: filesAnalyzed is false but it has a packageVerificationCode`);
    for (const r of d.relationships ?? [])
      if (r.spdxElementId === p.SPDXID && r.relationshipType === 'CONTAINS' && fileIds.has(r.relatedSpdxElement))
        out.push(`${p.SPDXID}: filesAnalyzed is false but it CONTAINS the file ${r.relatedSpdxElement}`);
  }
  // §7.5 / §7.6: supplier and originator are NOASSERTION or `Person: …` / `Organization: …`.
  for (const p of d.packages ?? [])
    for (const [k, v] of [
      ['supplier', p.supplier],
      ['originator', p.originator],
    ] as const)
      if (v !== undefined && !/^(NOASSERTION|(Person|Organization): \S.*)$/.test(v))
        out.push(`${p.SPDXID}: ${k} "${v}" is not NOASSERTION, Person: or Organization:`);
  // Annex F: a purl locator is a package URL; a cpe23Type locator a CPE 2.3 formatted string.
  for (const p of d.packages ?? [])
    for (const r of p.externalRefs ?? []) {
      if (r.referenceType === 'purl') {
        if (!['PACKAGE-MANAGER', 'PACKAGE_MANAGER'].includes(r.referenceCategory))
          out.push(`${p.SPDXID}: purl under ${r.referenceCategory}`);
        if (!purlParses(r.referenceLocator)) out.push(`${p.SPDXID}: "${r.referenceLocator}" is not a package URL`);
      }
      if (r.referenceType === 'cpe23Type') {
        if (r.referenceCategory !== 'SECURITY') out.push(`${p.SPDXID}: cpe23Type under ${r.referenceCategory}`);
        if (!cpe23Pattern().test(r.referenceLocator))
          out.push(`${p.SPDXID}: "${r.referenceLocator}" is not a CPE 2.3 formatted string`);
      }
    }
  return out;
}

/** A purl as the package-url reference parser reads it. */
export function purlParses(s: string): boolean {
  try {
    PackageURL.fromString(s);
    return s.startsWith('pkg:');
  } catch {
    return false;
  }
}

/**
 * The CPE 2.3 formatted-string binding (NISTIR 7695 §6.2, the form SPDX 2.3 Annex F asks of
 * a cpe23Type locator): part, then vendor … other as quoted-or-plain values, `*` or `-`,
 * and a language tag in the eighth place.
 */
export function cpe23Pattern(): RegExp {
  const avstring = String.raw`(((\?*|\*?)([a-zA-Z0-9\-._]|(\\[\\*?!"#$%&'()+,/:;<=>@[\]^${'`'}{|}~]))+(\?*|\*?))|[*\-])`;
  const lang = String.raw`(([a-zA-Z]{2,3}(-([a-zA-Z]{2}|[0-9]{3}))?)|[*\-])`;
  return new RegExp(`^cpe:2\\.3:[aho*\\-](:${avstring}){5}(:${lang})(:${avstring}){4}$`);
}
