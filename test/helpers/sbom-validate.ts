/**
 * Validates SBOMs in tests: CycloneDX 1.5 against the official schema (shipped by the
 * @cyclonedx/cyclonedx-library devDependency), SPDX 2.3 against the schema fixture written
 * from the spec (test/fixtures/schemas/README.md), plus the reference rules a JSON schema
 * cannot state (ids unique, every relationship end exists, LicenseRefs declared).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const addFormats = addFormatsModule as unknown as (a: Ajv) => void;

function cdxSchemaDir(): string {
  return join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
}

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

let cdx: ReturnType<Ajv['compile']> | undefined;
let spdx: ReturnType<Ajv['compile']> | undefined;

export function cycloneDxErrors(doc: unknown): string[] {
  if (!cdx) {
    const ajv = makeAjv();
    const dir = cdxSchemaDir();
    // The bom schema refers to its siblings by these names, relative to its own $id.
    ajv.addSchema({ ...readJson(join(dir, 'spdx.SNAPSHOT.schema.json')), $id: 'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json' });
    ajv.addSchema({ ...readJson(join(dir, 'jsf-0.82.SNAPSHOT.schema.json')), $id: 'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json' });
    cdx = ajv.compile(readJson(join(dir, 'bom-1.5.SNAPSHOT.schema.json')));
  }
  const out = cdx(doc) ? [] : (cdx.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  const d = doc as { metadata?: { component?: { 'bom-ref'?: string } }; components?: unknown[]; dependencies?: { ref: string; dependsOn?: string[] }[] };
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
  for (const dep of d.dependencies ?? []) for (const r of [dep.ref, ...(dep.dependsOn ?? [])]) if (!seen.has(r)) out.push(`dependency names unknown bom-ref ${r}`);
  return out;
}

export function spdxErrors(doc: unknown): string[] {
  if (!spdx) spdx = makeAjv().compile(readJson(join(here, '..', 'fixtures', 'schemas', 'spdx-2.3.schema.json')));
  const out = spdx(doc) ? [] : (spdx.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
  const d = doc as {
    packages?: { SPDXID: string; licenseDeclared?: string; licenseConcluded?: string }[];
    files?: { SPDXID: string }[];
    relationships?: { spdxElementId: string; relatedSpdxElement: string; relationshipType: string }[];
    hasExtractedLicensingInfos?: { licenseId: string }[];
  };
  const ids = ['SPDXRef-DOCUMENT', ...(d.packages ?? []).map((p) => p.SPDXID), ...(d.files ?? []).map((f) => f.SPDXID)];
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) out.push(`SPDXID ${id} is not unique`);
    seen.add(id);
  }
  for (const r of d.relationships ?? []) for (const id of [r.spdxElementId, r.relatedSpdxElement]) if (!seen.has(id)) out.push(`relationship names unknown element ${id}`);
  if (!(d.relationships ?? []).some((r) => r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES')) out.push('the document DESCRIBES nothing');
  const declared = new Set((d.hasExtractedLicensingInfos ?? []).map((l) => l.licenseId));
  for (const p of d.packages ?? [])
    for (const l of [p.licenseDeclared, p.licenseConcluded]) for (const m of (l ?? '').matchAll(/LicenseRef-[A-Za-z0-9.-]+/g)) if (!declared.has(m[0])) out.push(`${p.SPDXID}: ${m[0]} is not in hasExtractedLicensingInfos`);
  return out;
}
