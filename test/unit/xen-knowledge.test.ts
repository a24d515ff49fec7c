/**
 * Commands read xenrel's Xen knowledge from config/xen.json, which the build writes from
 * config/xen.yaml; the YAML, parsed and validated by the config loader, is the truth.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { loadXenKnowledge, XEN_CONFIG_PATH, XEN_KNOWLEDGE_JSON } from '../../src/xen/knowledge.js';

describe("xenrel's Xen knowledge", () => {
  it('config/xen.json is config/xen.yaml parsed (run `npm run build` after editing the YAML)', () => {
    const fromYaml = parseConfigText(readFileSync(XEN_CONFIG_PATH, 'utf8'), XEN_CONFIG_PATH);
    expect(JSON.parse(readFileSync(XEN_KNOWLEDGE_JSON, 'utf8'))).toEqual(fromYaml);
    expect(loadXenKnowledge()).toEqual(fromYaml);
    expect(Object.keys(fromYaml.components)).toContain('qemu-xen');
  });
});
