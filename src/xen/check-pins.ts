import type { Config } from '../model/config.js';
import type { DerivedConfig } from './pins-to-config.js';

/** One disagreement between the tree's make variables and the config. */
export interface PinDrift {
  component: string;
  /** The config field that differs (`ref`, `git`, `url`, `path`), or `component` when one side lacks it. */
  field: string;
  /** Make variable(s) behind the tree's value, with where they are set. */
  variables: { name: string; where: string; value: string }[];
  tree?: string;
  config?: string;
  message: string;
}

/**
 * Compare what the tree pins with what the config says, for every component the tree
 * pins through make variables. Components the config has that the tree does not pin
 * (grub2, a `local:` prebuilt, a hand-added extra) are not drift.
 */
export function checkPins(derived: DerivedConfig, config: Config, configName = 'the config'): PinDrift[] {
  const drift: PinDrift[] = [];
  for (const d of derived.components) {
    if (!d.sources.length) continue;
    const have = config.components[d.name];
    const vars = (fields: string[]) =>
      d.sources
        .filter((s) => fields.includes(s.field))
        .map((s) => ({ name: s.variable, where: s.where, value: s.value }));
    const describe = (vs: { name: string; where: string; value: string }[]) =>
      vs.map((v) => `${v.name} (${v.where}) = ${v.value}`).join(', ');
    if (!have) {
      drift.push({
        component: d.name,
        field: 'component',
        variables: vars(['git', 'ref', 'url']),
        tree: d.spec.git ?? d.spec.url,
        message: `${d.name}: the tree pins it (${describe(vars(['git', 'ref', 'url']))}) but ${configName} has no such component`,
      });
      continue;
    }
    if (have.local !== undefined) continue; // a prebuilt replaces the fetch on purpose
    const pairs: [string, string | undefined, string | undefined, string[]][] = d.spec.git
      ? [
          ['git', d.spec.git, have.git, ['git']],
          ['ref', d.spec.ref, have.ref, ['ref']],
        ]
      : [
          ['url', d.spec.url, have.url, ['url']],
          ['path', d.spec.path, have.path, ['url']],
        ];
    for (const [field, tree, conf, fields] of pairs) {
      if (tree === conf) continue;
      const vs = vars(fields);
      drift.push({
        component: d.name,
        field,
        variables: vs,
        tree,
        config: conf,
        message: `${d.name}.${field}: the tree has ${JSON.stringify(tree)} (${describe(vs)}), ${configName} has ${conf === undefined ? 'none' : JSON.stringify(conf)}`,
      });
    }
  }
  return drift;
}
