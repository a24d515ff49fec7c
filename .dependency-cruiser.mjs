/**
 * Which part of src/ may import which (dependency-cruiser; test/unit/architecture.test.ts
 * runs it). Library code is stacked in layers, lowest first: a module may import its own
 * folder and the layers below its own, never a layer beside or above it. The pipeline reads
 * bottom-up: config -> lock -> fetch -> vendor -> release. One exception to the
 * pipeline order: verify sits below release, because release reads each tarball back through
 * verify before calling it a release. Type-only imports count: they couple layers too.
 *
 * Names are folders of src/ or files at its top.
 */
export const LAYERS = [
  ['errors.ts', 'version.ts', 'types.ts'],
  ['util', 'tree', 'content-cache'],
  // The config and lock schemas and the types inferred from them.
  ['model'],
  ['archive', 'config'],
  // The formats several stages share: the .xenrel/ folder, release.json, the release record,
  // the static mirror.
  ['layout'],
  ['sources'],
  // What each kind of component (git, tarball, local) does at each stage, over sources/.
  ['components'],
  ['nested', 'upstream', 'xen'],
  ['lock'],
  ['fetch', 'sbom', 'mirror', 'bump', 'provenance'],
  ['vendoring'],
  ['verify'],
  // release --reproduce runs release again as a child process: it imports none of release/.
  ['release', 'reproduce'],
  ['export'],
  // The library's public entry.
  ['index.ts'],
];

/** The command line: commands, their help and completion, and the report they print through. */
export const CLI = ['cli', 'shell', 'report', 'cli.ts'];

const pattern = (name) => (name.endsWith('.ts') ? `^src/${name.replace(/\./g, '\\.')}$` : `^src/${name}/`);
const anyOf = (names) => names.map(pattern);
const CLI_PATHS = anyOf(CLI);

const layerRules = LAYERS.flatMap((layer, i) =>
  layer.map((name) => {
    const above = [...LAYERS.slice(i + 1).flat(), ...layer.filter((n) => n !== name), ...CLI];
    return {
      name: `layer:${name}`,
      comment: `${name} may import only the layers below it (${LAYERS.slice(0, i).flat().join(', ') || 'none'})`,
      severity: 'error',
      from: { path: pattern(name) },
      to: { path: anyOf(above) },
    };
  }),
);

export default {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'library modules form no import cycle, not even through a type or a lazy import()',
      severity: 'error',
      from: { pathNot: CLI_PATHS },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      comment: 'library folders form no cycle either (a file-level cycle can hide in one that is not)',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/[^/]+', pathNot: CLI_PATHS.map((p) => p.replace(/\/$/, '')) },
      to: { circular: true, path: '^src/[^/]+' },
    },
    {
      // The command table loads each command with import(); help and completion read the
      // table. That loop through a lazy import is the only one allowed, and only here.
      name: 'no-cli-cycles',
      comment: 'the command line forms no import cycle except through a lazy import()',
      severity: 'error',
      from: { path: CLI_PATHS },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['dynamic-import'] } },
    },
    {
      name: 'report-only-from-cli',
      comment: 'only commands print: library code returns results and throws errors that carry what a report shows',
      severity: 'error',
      from: { pathNot: ['^src/cli/', '^src/report/'] },
      to: { path: '^src/report/' },
    },
    {
      name: 'entry-points',
      comment: 'src/index.ts and src/cli.ts are entries: nothing in src/ imports them',
      severity: 'error',
      from: {},
      to: { path: ['^src/index\\.ts$', '^src/cli\\.ts$'] },
    },
    ...layerRules,
  ],
  options: {
    includeOnly: '^src/',
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
