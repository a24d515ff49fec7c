// Writes config/xen.json, the parsed form of config/xen.yaml that commands load: reading
// YAML would make every command that checks a lock load the YAML parser. A unit test
// fails when the two disagree.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseConfigText } from '../../dist/config/load.js';

const source = 'config/xen.yaml';
const config = parseConfigText(readFileSync(source, 'utf8'), source);
writeFileSync('config/xen.json', `${JSON.stringify(config, null, 2)}\n`);
