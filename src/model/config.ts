/**
 * The config (`xenrel.config.yaml`): its schema, and the types inferred from it. Loading it,
 * with errors at file:line:col, is src/config/load.ts.
 */
import * as z from 'zod/mini';
import '../util/zod-messages.js';
import { urlProblem } from './url.js';
import { commitId } from '../util/patterns.js';

const componentName = /^[a-z0-9][a-z0-9._-]*$/;

/** A path inside the tree: relative, `/`-separated, no `..`, no backslash. */
export const treePath = z.string().check(
  z.minLength(1, 'expected a non-empty path'),
  z.refine((p) => !/[\u0000-\u001f\u007f]/.test(p), 'must not contain control characters (NUL, newline, tab, …)'),
  z.refine((p) => !p.startsWith('/') && !/^[A-Za-z]:/.test(p), 'must be relative to the tree root, not absolute'),
  z.refine((p) => !p.includes('\\'), 'must use "/" as separator'),
  z.refine(
    (p) => !p.split('/').some((s) => s === '..' || s === '.' || s === ''),
    'must not contain "..", "." or empty segments',
  ),
);

/** A source URL, checked as git and undici will read it (./url.ts). */
export const urlString = z.string().check(
  z.superRefine((u, ctx) => {
    const problem = urlProblem(u);
    if (problem) ctx.addIssue({ code: 'custom', message: `${problem}: ${JSON.stringify(u)}` });
  }),
);

/** No NUL or other control characters: they end a C string early or forge lines. */
export const plainString = z
  .string()
  .check(
    z.refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters (NUL, newline, tab, …)'),
  );

/** A plain string that is not empty. */
export const nonEmptyPlainString = plainString.check(z.minLength(1));

/** A tree hash as the README defines it. */
export const treeHashString = z
  .string()
  .check(z.regex(/^sha256-[A-Za-z0-9+/]{43}=$/, 'expected a tree hash "sha256-<base64>"'));

export const integrityString = z.string().check(
  // The digest's exact length per algorithm: a longer or shorter one would pass a loose
  // pattern here and only be refused, unpositioned, when the bytes are checked.
  z.regex(
    /^(sha256-[A-Za-z0-9+/]{43}=|sha384-[A-Za-z0-9+/]{64}|sha512-[A-Za-z0-9+/]{86}==)$/,
    'expected an SRI integrity such as "sha512-<86 base64 characters>==" (sha256, sha384 or sha512, the digest at its full length)',
  ),
);

/** A whole number above zero. */
export const positiveInt = z.int().check(z.positive());
/** A byte count or size: a whole number, zero or more. */
export const sizeNumber = z.int().check(z.nonnegative());

/** Per-component extraction limits (hardening); defaults live in the archive reader. */
export const limitsSchema = z.strictObject({
  maxBytes: z.optional(positiveInt),
  maxEntries: z.optional(positiveInt),
  maxDepth: z.optional(positiveInt),
  maxPathLength: z.optional(positiveInt),
  maxRatio: z.optional(z.number().check(z.positive())),
  /** Also refuse names Windows cannot hold (CON, aux.c, trailing dots, 8.3 names). */
  portableNames: z.optional(z.boolean()),
});

/** How Xen's configure switches a component on or off (used by `plan` and `--without`). */
export const configureSchema = z.strictObject({
  /** Option that enables it, when it is off by default (`--enable-ovmf`). */
  enable: z.optional(z.string()),
  /** Option that replaces it with a system copy or turns it off (`--with-system-seabios=PATH`). */
  disable: z.optional(z.string()),
  /** Whether a default x86 configure builds (and so fetches) it. */
  default: z.optional(z.boolean()),
  /** Free text: when it is needed (`vtpm stubdom, on when cmake exists`). */
  when: z.optional(z.string()),
});

/**
 * A tarball component's cross-reference to the git tag (or commit) it was made from, for
 * `verify --upstream`: files only in the tarball, or different from git, are findings.
 */
export const upstreamGitSchema = z
  .strictObject({
    url: urlString,
    tag: z.optional(nonEmptyPlainString),
    commit: z.optional(commitId),
    /** Files a dist tarball adds or regenerates (`configure`, `aclocal.m4`; `*` matches within a name, `dir/` a folder). */
    generated: z.optional(z.array(nonEmptyPlainString)),
  })
  .check(
    z.superRefine((g, ctx) => {
      if ((g.tag === undefined) === (g.commit === undefined))
        ctx.addIssue({ code: 'custom', message: 'needs exactly one of "tag" or "commit"', path: [] });
    }),
  );

export const componentSchema = z
  .strictObject({
    /** A git source: the repository URL; needs `ref`. */
    git: z.optional(urlString),
    /** Tag, branch or commit; required with `git`. */
    ref: z.optional(nonEmptyPlainString),
    /** A tarball (or any file) source. */
    url: z.optional(urlString),
    /** A prebuilt file or directory, relative to the config file. */
    local: z.optional(nonEmptyPlainString),
    /** Where Xen's make expects it, relative to the tree root. */
    path: treePath,
    license: z.optional(z.string()),
    /** Make variables that name this component (for `init`/`bump`). */
    vars: z.optional(z.array(z.string())),
    /** Extra mirrors for this component, tried before the global ones. */
    mirrors: z.optional(z.array(urlString)),
    /** An integrity the bytes must have (`sha512-…`/`sha256-…`), for pre-pinned tarballs. */
    integrity: z.optional(integrityString),
    /** Patch files (relative to the config) applied in order at vendor time. */
    patches: z.optional(z.array(nonEmptyPlainString)),
    /** Group names (`firmware`, `stubdom`, `qemu`) for `--without`. */
    groups: z.optional(
      z.array(z.string().check(z.regex(componentName, 'expected a group name (lower case, digits, ".", "_", "-")'))),
    ),
    description: z.optional(z.string()),
    /** How Xen's configure switches it on or off (`plan`, `--without`); see config/xen.yaml. */
    configure: z.optional(configureSchema),
    /** Archive limits for this component (hardening); unset ones keep the safe defaults. */
    limits: z.optional(limitsSchema),
    /** An OpenPGP public key file (relative to the config) that signs this component's tags or tarballs. */
    signingKey: z.optional(plainString),
    /** A tarball's git tag or commit: `verify --upstream` compares the two, file by file. */
    upstreamGit: z.optional(upstreamGitSchema),
  })
  .check(
    z.superRefine((c, ctx) => {
      const kinds = (['git', 'url', 'local'] as const).filter((k) => c[k] !== undefined);
      if (kinds.length === 0)
        ctx.addIssue({
          code: 'custom',
          message: 'needs a source: one of "git" (with "ref"), "url" or "local"',
          path: [],
        });
      if (kinds.length > 1)
        ctx.addIssue({
          code: 'custom',
          message: `has more than one source (${kinds.join(', ')}); keep exactly one`,
          path: [kinds[1]!],
        });
      if (c.git !== undefined && c.ref === undefined)
        ctx.addIssue({ code: 'custom', message: 'a git source needs "ref" (a tag, branch or commit)', path: ['git'] });
      if (c.ref !== undefined && c.git === undefined)
        ctx.addIssue({ code: 'custom', message: '"ref" only applies to a git source', path: ['ref'] });
      if (c.upstreamGit !== undefined && c.url === undefined)
        ctx.addIssue({
          code: 'custom',
          message: '"upstreamGit" applies to a url (tarball) source: a git source is its own git',
          path: ['upstreamGit'],
        });
      if (c.integrity !== undefined && c.git !== undefined)
        ctx.addIssue({
          code: 'custom',
          message: '"integrity" applies to url and local sources; a git source is pinned by its commit',
          path: ['integrity'],
        });
    }),
  );

export const configSchema = z
  .strictObject({
    version: z.literal(1, { message: 'expected 1 (the only config format version so far)' }),
    name: z.string().check(z.regex(componentName, 'expected a project name (lower case, digits, ".", "_", "-")')),
    release: z.optional(
      z.strictObject({
        /** The version in the tarball name (`xen-4.22.0`); else `git describe`. */
        version: z.optional(z.string().check(z.minLength(1))),
        prefix: z.optional(z.string().check(z.minLength(1))),
        /** Where the project's commits can be fetched; the release record names it for `verify --upstream`. */
        repository: z.optional(urlString),
      }),
    ),
    /** Global mirrors (tarballs): `<mirror>/<basename of url>`. */
    mirrors: z._default(z.array(urlString), () => []),
    components: z.record(
      z.string().check(z.regex(componentName, 'expected a component name (lower case, digits, ".", "_", "-")')),
      componentSchema,
    ),
  })
  .check(
    z.superRefine((m, ctx) => {
      // Two components may not own the same or nested paths: vendor would overwrite one with the other.
      const entries = Object.entries(m.components);
      for (let i = 0; i < entries.length; i++)
        for (let j = i + 1; j < entries.length; j++) {
          const [a, ca] = entries[i]!;
          const [b, cb] = entries[j]!;
          if (ca.path === cb.path || ca.path.startsWith(`${cb.path}/`) || cb.path.startsWith(`${ca.path}/`))
            ctx.addIssue({
              code: 'custom',
              message: `path "${cb.path}" overlaps the path of component "${a}"`,
              path: ['components', b, 'path'],
            });
        }
    }),
  );

/** Keys the object at `path` accepts, for "did you mean" on an unknown key. */
export function knownKeysAt(path: (string | number)[]): string[] {
  if (path.length === 0) return Object.keys(configSchema.shape);
  if (path.length === 1 && path[0] === 'release') return Object.keys(configSchema.shape.release.def.innerType.shape);
  if (path[0] === 'components' && path.length === 2) return Object.keys(componentSchema.shape);
  if (path[0] === 'components' && path.length === 3 && path[2] === 'configure')
    return Object.keys(configureSchema.shape);
  if (path[0] === 'components' && path.length === 3 && path[2] === 'limits') return Object.keys(limitsSchema.shape);
  if (path[0] === 'components' && path.length === 3 && path[2] === 'upstreamGit')
    return Object.keys(upstreamGitSchema.shape);
  return [];
}

// Interfaces over the inferred types, so that signatures and hovers show the names.
/** The config as loaded: defaults applied (`mirrors` is always there). */
export interface Config extends z.output<typeof configSchema> {}
/** One component as written in `xenrel.config.yaml`. Exactly one of git / url / local (see kindOf). */
export interface ComponentSpec extends z.output<typeof componentSchema> {}
export interface ComponentConfigure extends z.output<typeof configureSchema> {}
export interface ComponentLimits extends z.output<typeof limitsSchema> {}
export interface UpstreamGit extends z.output<typeof upstreamGitSchema> {}
/** @deprecated the config's type is `Config` now. */
export type Manifest = Config;
