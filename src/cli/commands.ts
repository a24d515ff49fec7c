import type { CommandClass } from 'clipanion';

export type CommandGroup = 'pipeline' | 'inspection' | 'export' | 'shell';

export interface CommandEntry {
  name: string;
  group: CommandGroup;
  /** The one-line description (the class's `usage.description`; a test keeps them equal). */
  summary: string;
  /** Imported only when the command runs or its help is asked for: start-up stays fast. */
  load: () => Promise<CommandClass>;
}

export const GROUP_TITLES: Record<CommandGroup, string> = {
  pipeline: 'Pipeline: config -> lock -> cache -> tree -> tarball',
  inspection: 'Inspection',
  export: 'Export',
  shell: 'Shell',
};

/** Every command, one line each (one command a file in src/cli/), in pipeline order. */
export const commandTable: CommandEntry[] = [
  {
    name: 'init',
    group: 'pipeline',
    summary: 'Write xenrel.config.yaml from the pins of a Xen tree',
    load: async () => (await import('./init.js')).InitCommand,
  },
  {
    name: 'plan',
    group: 'pipeline',
    summary: 'List what a build of this Xen tree will download',
    load: async () => (await import('./plan.js')).PlanCommand,
  },
  {
    name: 'lock',
    group: 'pipeline',
    summary: 'Resolve every pin in the config into xenrel.lock',
    load: async () => (await import('./lock.js')).LockCommand,
  },
  {
    name: 'fetch',
    group: 'pipeline',
    summary: 'Download every locked component into the verified cache',
    load: async () => (await import('./fetch.js')).FetchCommand,
  },
  {
    name: 'vendor',
    group: 'pipeline',
    summary: 'Place every locked source in the tree and install the offline make shim',
    load: async () => (await import('./vendor.js')).VendorCommand,
  },
  {
    name: 'release',
    group: 'pipeline',
    summary: 'Cut a self-contained, byte-reproducible release tarball',
    load: async () => (await import('./release.js')).ReleaseCommand,
  },
  {
    name: 'verify',
    group: 'pipeline',
    summary: 'Verify a release tarball or a vendored tree against its lock, offline or against upstream',
    load: async () => (await import('./verify.js')).VerifyCommand,
  },
  {
    name: 'bump',
    group: 'pipeline',
    summary: 'Move a pin to a newer upstream version, re-lock, and print the upstream log',
    load: async () => (await import('./bump.js')).BumpCommand,
  },
  {
    name: 'clean',
    group: 'pipeline',
    summary: 'Remove what `xenrel vendor` placed in the tree (the cache stays)',
    load: async () => (await import('./clean.js')).CleanCommand,
  },
  {
    name: 'status',
    group: 'inspection',
    summary: 'Show each component: pin, locked commit or integrity, whether it is in the cache',
    load: async () => (await import('./status.js')).StatusCommand,
  },
  {
    name: 'diff',
    group: 'inspection',
    summary: 'Show what changed between two lockfiles (two releases), with upstream short logs',
    load: async () => (await import('./diff.js')).DiffCommand,
  },
  {
    name: 'hash',
    group: 'inspection',
    summary: 'Print the tree hash of a directory',
    load: async () => (await import('./hash.js')).HashCommand,
  },
  {
    name: 'sbom',
    group: 'export',
    summary: 'Write a software bill of materials (SPDX 2.3 or CycloneDX 1.5 JSON) from the lock',
    load: async () => (await import('./sbom.js')).SbomCommand,
  },
  {
    name: 'export',
    group: 'export',
    summary: "Write what a distribution's packaging needs from the lock (Debian, Fedora, Yocto, Buildroot)",
    load: async () => (await import('./export.js')).ExportCommand,
  },
  {
    name: 'mirror',
    group: 'export',
    summary: 'Export the cache as a static mirror any web server can host',
    load: async () => (await import('./mirror.js')).MirrorCommand,
  },
  {
    name: 'completion',
    group: 'shell',
    summary: 'Print a bash or zsh completion script',
    load: async () => (await import('./completion.js')).CompletionCommand,
  },
  {
    name: 'help',
    group: 'shell',
    summary: 'Show the commands, or the details of one (`xenrel help lock`)',
    load: async () => (await import('./help.js')).HelpCommand,
  },
];

export function findCommand(name: string): CommandEntry | undefined {
  return commandTable.find((c) => c.name === name);
}

/** All command classes (help's details, completion): loads every module. */
export async function loadAllCommands(): Promise<CommandClass[]> {
  return Promise.all(commandTable.map((c) => c.load()));
}
