/**
 * Reading a `.intoto.jsonl` file: untrusted input. One line, either a DSSE envelope or a
 * bare statement; every failure names file:line:col (and the key path, for the schema).
 */
import { Buffer } from 'node:buffer';
import * as z from 'zod/mini';
import '../util/zod-messages.js';
import { ExitCode, XenrelError } from '../errors.js';
import { jsonSyntaxIssue } from '../lock/lockfile.js';
import { reservedKeyPath } from '../util/patterns.js';
import { jsonPositionOf } from '../util/json-positions.js';
import { formatKeyPath } from '../util/key-path.js';
import { INTOTO_PAYLOAD_TYPE, type DsseEnvelope } from './dsse.js';
import { SLSA_PROVENANCE_V1, STATEMENT_TYPE, type ProvenanceStatement } from './statement.js';

const base64 = z.string().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64'));
const nonEmpty = z.string().check(z.minLength(1));
const envelopeSchema = z.object({
  payloadType: z.literal(INTOTO_PAYLOAD_TYPE, { message: `expected "${INTOTO_PAYLOAD_TYPE}"` }),
  payload: base64,
  signatures: z
    .array(z.object({ keyid: z.optional(z.string()), sig: base64.check(z.minLength(1)) }))
    .check(z.minLength(1, 'expected at least one signature')),
});

const digestSet = z.record(nonEmpty, nonEmpty);
const descriptor = z
  .object({
    name: z.optional(z.string()),
    uri: z.optional(z.string()),
    digest: z.optional(digestSet),
    annotations: z.optional(z.record(z.string(), z.unknown())),
  })
  .check(z.refine((d) => d.uri !== undefined || d.digest !== undefined, 'a resource needs a uri or a digest'));
// Unknown fields are allowed, as in-toto's parsing rules ask; the ones verify reads are typed.
const statementSchema = z.object({
  _type: z.literal(STATEMENT_TYPE, { message: `expected "${STATEMENT_TYPE}"` }),
  subject: z
    .array(descriptor.check(z.refine((d) => d.digest !== undefined, 'a subject needs a digest')))
    .check(z.minLength(1)),
  predicateType: z.literal(SLSA_PROVENANCE_V1, { message: `expected "${SLSA_PROVENANCE_V1}"` }),
  predicate: z.object({
    buildDefinition: z.object({
      buildType: nonEmpty,
      externalParameters: z.object({
        without: z._default(z.array(z.string()), () => []),
        project: z._default(z.object({ commit: z.optional(z.string()) }), () => ({})),
      }),
      resolvedDependencies: z._default(z.array(descriptor), () => []),
    }),
    runDetails: z.object({ builder: z.object({ id: nonEmpty }) }),
  }),
});

export interface ParsedProvenance {
  statement: ProvenanceStatement;
  /** Present when the line is a DSSE envelope: the payload bytes are what was signed. */
  envelope?: DsseEnvelope;
  payload: Buffer;
}

const invalid = (where: string, message: string) =>
  new XenrelError('E_PROVENANCE_INVALID', `${where}: ${message}`, {
    exitCode: ExitCode.checkFailed,
    hint: 'obtain the .intoto.jsonl again from where the release is published',
  });

/** JSON `text` through `schema`; `at(line, col)` names a position in it for the message. */
function parseJson<T>(schema: z.ZodMiniType<T>, text: string, at: (line: number, col: number) => string): T {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const i = jsonSyntaxIssue(text, '', err as Error);
    throw invalid(at(i.line, i.col), i.message);
  }
  const reserved = reservedKeyPath(data);
  const r = schema.safeParse(data);
  if (!reserved && r.success) return r.data;
  const path = reserved ?? r.error!.issues[0]!.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  const { line: l, col } = jsonPositionOf(text, path, { key: Boolean(reserved) });
  const message = reserved ? 'a reserved name cannot be a key' : r.error!.issues[0]!.message;
  throw invalid(at(l, col), `${path.length ? `${formatKeyPath(path)}: ` : ''}${message}`);
}

export function parseProvenance(text: string, file: string): ParsedProvenance {
  const lines = text.split('\n');
  const used = lines.map((l, i) => ({ l, i })).filter(({ l }) => l.trim() !== '');
  if (used.length !== 1) throw invalid(`${file}:1:1`, `expected one attestation line, found ${used.length}`);
  const { l, i } = used[0]!;
  const inLine = (line: number, col: number) => `${file}:${i + line}:${col}`;
  const raw = parseJson(z.record(z.string(), z.unknown()), l, inLine);
  if ('payloadType' in raw || 'signatures' in raw) {
    const envelope = parseJson(envelopeSchema, l, inLine) as DsseEnvelope;
    const payload = Buffer.from(envelope.payload, 'base64');
    const inPayload = (line: number, col: number) => `${file}:${i + 1}: the envelope's payload, at ${line}:${col}`;
    const statement = parseJson(statementSchema, payload.toString('utf8'), inPayload) as unknown as ProvenanceStatement;
    return { statement, envelope, payload };
  }
  return {
    statement: parseJson(statementSchema, l, inLine) as unknown as ProvenanceStatement,
    payload: Buffer.from(l, 'utf8'),
  };
}
