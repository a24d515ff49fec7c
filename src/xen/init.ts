import { Document, visit } from 'yaml';
import type { ComponentSpec, Config } from '../model/config.js';
import { pinsToConfig, type DerivedComponent, type DerivedConfig } from './pins-to-config.js';
import { readXenPins, type ReadPinsOptions, type XenPins } from './read-pins.js';
import { scanFetches, type ScanResult } from './scan-fetches.js';

export interface TreeReading {
  pins: XenPins;
  derived: DerivedConfig;
  scan: ScanResult;
}

/** Everything `init` learns from a Xen tree: its pins, the config they make, and every fetch site. */
export async function readXenTree(root: string, opts: ReadPinsOptions = {}): Promise<TreeReading> {
  const pins = await readXenPins(root, opts);
  const derived = pinsToConfig(pins);
  const scan = await scanFetches(pins.root, { components: derived.config.components });
  return { pins, derived, scan };
}

/** Field order people expect to read: source, where it goes, what it is. */
const FIELD_ORDER: (keyof ComponentSpec)[] = [
  'git',
  'ref',
  'url',
  'local',
  'integrity',
  'path',
  'license',
  'vars',
  'groups',
  'description',
  'configure',
  'mirrors',
  'patches',
];

function ordered(spec: ComponentSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) if (spec[k] !== undefined) out[k] = spec[k];
  for (const [k, v] of Object.entries(spec)) if (!(k in out) && v !== undefined) out[k] = v;
  return out;
}

function pinComment(d: DerivedComponent): string | undefined {
  if (!d.sources.length) return d.spec.git ? "not a pin of the Xen tree: xenrel's default" : undefined;
  return d.sources.map((s) => `${s.variable} (${s.where})`).join(', ');
}

/** The config file text, with a comment per component saying which variables pinned it. */
export function renderConfigYaml(reading: TreeReading, treeLabel: string): string {
  const m: Config = reading.derived.config;
  const header = [
    `# xenrel config for the Xen tree at ${treeLabel}, written by \`xenrel init\`.`,
    "# Pins come from the tree's make variables (Config.mk, .config, tools/firmware/etherboot/Makefile,",
    "# stubdom/configure.ac or config/Stubdom.mk); licenses, groups and paths from xenrel's config/xen.yaml.",
    '# `xenrel init --check` tells when the tree and this file disagree.',
    '',
  ].join('\n');
  const parts = [`version: ${m.version}\nname: ${m.name}\nmirrors: []\ncomponents:\n`];
  for (const d of reading.derived.components) {
    const note = pinComment(d);
    const doc = new Document({ [d.name]: ordered(d.spec) });
    // Short lists (vars, groups) read best on one line.
    visit(doc, { Seq: (_k, node) => void (node.flow = true) });
    const body = doc
      .toString({ lineWidth: 0 })
      .trimEnd()
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n');
    parts.push(`${note ? `  # ${note}\n` : ''}${body}\n\n`);
  }
  return `${header}${parts.join('').trimEnd()}\n`;
}

/** @deprecated `renderConfigYaml`. */
export const renderManifestYaml = renderConfigYaml;
