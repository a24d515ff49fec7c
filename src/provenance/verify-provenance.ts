/**
 * `verify --provenance`: the statement must name this tarball (its sha256), the lock's
 * pins exactly, and the project commit release.json names; a DSSE envelope must be signed
 * by exactly `--key`. Every difference is one line naming what differs.
 */
import { Buffer } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { ExitCode, XenrelError } from '../errors.js';
import type { Lockfile } from '../model/lock.js';
import { pae } from './dsse.js';
import { keyRef } from './key-kind.js';
import { parseProvenance, type ParsedProvenance } from './parse.js';
import { gpgVerify } from './sign-gpg.js';
import { sshVerify } from './sign-ssh.js';
import { canonicalJson, resolvedDependencies, XENREL_BUILD_TYPE, type ResourceDescriptor } from './statement.js';

export interface VerifyProvenanceOptions {
  /** The `.intoto.jsonl` file, and how to name it in messages. */
  file: string;
  display?: string;
  /** sha256 (hex) of the tarball's bytes. */
  tarballSha256: string;
  /** The lock the tarball was checked against (given, or the one inside). */
  lock: Lockfile;
  /** What verify found for the project's own files: release.json's commit, the recomputed tree hash. */
  project?: { commit?: string; tree?: string };
  /** Public key (OpenPGP key file or fingerprint, or OpenSSH public key file): the envelope must be signed by it. */
  key?: string;
}

export interface ProvenanceCheck {
  ok: boolean;
  /** One line per difference, each starting `provenance: `. */
  problems: string[];
  signed: boolean;
  /** The OpenPGP primary fingerprint or the SSH key's SHA256 fingerprint, when the signature verified. */
  signer?: string;
  parsed: ParsedProvenance;
}

const SSH_ARMOR = '-----BEGIN SSH SIGNATURE-----';

/** The signature's check with exactly `key`; throws E_SIGNATURE (exit 1) when it fails. */
async function checkSignature(parsed: ParsedProvenance, key: string): Promise<string> {
  const sig = Buffer.from(parsed.envelope!.signatures[0]!.sig, 'base64');
  const data = pae(parsed.envelope!.payloadType, parsed.payload);
  const ref = await keyRef(key);
  const sshSig = sig.subarray(0, SSH_ARMOR.length).toString('utf8') === SSH_ARMOR;
  if (sshSig !== (ref.kind === 'ssh'))
    throw new XenrelError(
      'E_SIGNATURE',
      `provenance: DSSE signature: made with ${sshSig ? 'an SSH' : 'an OpenPGP'} key, --key is ${ref.kind === 'ssh' ? 'an SSH' : 'an OpenPGP'} key`,
      {
        exitCode: ExitCode.checkFailed,
        hint: 'pass the key the release manager signed with',
      },
    );
  if (ref.kind === 'ssh') {
    if (!ref.publicKey)
      throw new XenrelError('E_USAGE', `--key ${key}: an SSH private key without its .pub beside it`, {
        exitCode: ExitCode.usage,
        hint: 'pass the OpenSSH public key file',
      });
    return sshVerify(ref.publicKey, data, sig);
  }
  return gpgVerify(ref.kind === 'gpg-file' ? { file: ref.file } : { id: ref.id }, data, sig);
}

const roleOf = (d: ResourceDescriptor) =>
  typeof d.annotations?.xenrelRole === 'string' ? d.annotations.xenrelRole : 'component';
const show = (v: unknown) => (v === undefined ? 'nothing' : typeof v === 'string' ? v : canonicalJson(v));

/** Field-by-field differences of one dependency from what the lock pins. */
function dependencyDiffs(name: string, got: ResourceDescriptor, want: ResourceDescriptor): string[] {
  const out: string[] = [];
  const say = (field: string, g: unknown, w: unknown) =>
    out.push(`provenance: dependency ${name}: ${field} ${show(g)} ≠ lock ${show(w)}`);
  if (got.uri !== want.uri) say('uri', got.uri, want.uri);
  for (const alg of new Set([...Object.keys(want.digest ?? {}), ...Object.keys(got.digest ?? {})]))
    if (got.digest?.[alg] !== want.digest?.[alg]) say(alg, got.digest?.[alg], want.digest?.[alg]);
  for (const k of new Set([...Object.keys(want.annotations ?? {}), ...Object.keys(got.annotations ?? {})]))
    if (canonicalJson(got.annotations?.[k]) !== canonicalJson(want.annotations?.[k]))
      say(k, got.annotations?.[k], want.annotations?.[k]);
  return out;
}

function compareDependencies(
  got: ResourceDescriptor[],
  lock: Lockfile,
  without: string[],
  project: VerifyProvenanceOptions['project'],
): string[] {
  const problems: string[] = [];
  for (const w of without)
    if (!(w in lock.components)) problems.push(`provenance: left out "${w}", which the lock does not have`);
  const key = (d: ResourceDescriptor) => `${roleOf(d)}\0${d.name ?? d.uri ?? ''}`;
  const expected = resolvedDependencies(lock, { tree: '' }, without).filter((d) => roleOf(d) !== 'project');
  const seen = new Map<string, ResourceDescriptor>();
  for (const d of got) {
    if (roleOf(d) === 'project') continue;
    if (seen.has(key(d))) problems.push(`provenance: dependency ${d.name}: listed twice`);
    seen.set(key(d), d);
  }
  for (const want of expected) {
    const g = seen.get(key(want));
    seen.delete(key(want));
    if (!g) problems.push(`provenance: dependency ${want.name}: missing (the lock pins it)`);
    else problems.push(...dependencyDiffs(want.name!, g, want));
  }
  for (const extra of seen.values())
    problems.push(`provenance: dependency ${extra.name ?? extra.uri}: not in the lock`);

  const projects = got.filter((d) => roleOf(d) === 'project');
  if (projects.length !== 1) problems.push(`provenance: expected one project dependency, found ${projects.length}`);
  const p = projects[0];
  if (p && p.digest?.gitCommit !== project?.commit)
    problems.push(`provenance: project commit ${show(p.digest?.gitCommit)} ≠ release.json ${show(project?.commit)}`);
  if (p && project?.tree !== undefined && p.annotations?.tree !== project.tree)
    problems.push(`provenance: project tree ${show(p.annotations?.tree)} ≠ the tarball's ${project.tree}`);
  return problems;
}

export async function verifyProvenance(o: VerifyProvenanceOptions): Promise<ProvenanceCheck> {
  const display = o.display ?? o.file;
  const text = await readFile(o.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new XenrelError('E_USAGE', `${display}: cannot read the provenance (${err.code ?? err.message})`, {
      exitCode: ExitCode.usage,
    });
  });
  const parsed = parseProvenance(text, display);
  const problems: string[] = [];
  let signer: string | undefined;
  if (parsed.envelope && !o.key)
    throw new XenrelError('E_USAGE', `${display} is signed: pass --key KEY to check whose signature it is`, {
      exitCode: ExitCode.usage,
      hint: "the release manager's OpenPGP public key file or fingerprint, or SSH public key file",
    });
  if (!parsed.envelope && o.key) problems.push(`provenance: ${display} is not signed, and --key asks for a signature`);
  if (parsed.envelope && o.key) {
    if (parsed.envelope.signatures.length !== 1)
      problems.push(`provenance: expected one signature, found ${parsed.envelope.signatures.length}`);
    try {
      signer = await checkSignature(parsed, o.key);
    } catch (err) {
      if (!(err instanceof XenrelError) || err.exitCode !== ExitCode.checkFailed) throw err;
      problems.push(err.message.startsWith('provenance: ') ? err.message : `provenance: ${err.message}`);
    }
  }
  const s = parsed.statement;
  const bd = s.predicate.buildDefinition;
  if (bd.buildType !== XENREL_BUILD_TYPE) problems.push(`provenance: buildType ${bd.buildType} ≠ ${XENREL_BUILD_TYPE}`);
  const digests = s.subject.map((x) => x.digest?.sha256);
  if (!digests.includes(o.tarballSha256))
    problems.push(`provenance: subject sha256 ${digests.map(show).join(', ')} ≠ the tarball's ${o.tarballSha256}`);
  problems.push(
    ...compareDependencies(bd.resolvedDependencies ?? [], o.lock, bd.externalParameters.without, o.project),
  );
  return {
    ok: problems.length === 0,
    problems,
    signed: Boolean(parsed.envelope),
    ...(signer ? { signer } : {}),
    parsed,
  };
}
