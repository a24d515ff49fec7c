import { commandTable, findCommand, GROUP_TITLES, type CommandGroup } from '../cli/commands.js';
import type { CommandClass } from 'clipanion';
import { XenrelError, ExitCode } from '../errors.js';
import { XENREL_VERSION } from '../version.js';
import { suggest } from './suggest.js';

/** The command list, grouped, from the command table alone (no command module loads). */
export function overview(): string {
  const width = Math.max(...commandTable.map((c) => c.name.length));
  let out = `xenrel ${XENREL_VERSION}: resolve, fetch, vendor and release every source Xen's build downloads\n\n  $ xenrel <command> [options]\n`;
  for (const group of Object.keys(GROUP_TITLES) as CommandGroup[]) {
    out += `\n${GROUP_TITLES[group]}\n`;
    for (const c of commandTable.filter((e) => e.group === group)) out += `  ${c.name.padEnd(width)}  ${c.summary}\n`;
  }
  out += "\n`xenrel help COMMAND` (or `xenrel COMMAND --help`) shows a command's options, details and examples.\n";
  return out;
}

/** An unknown command name: a usage error that names the nearest commands. */
export function unknownCommand(name: string): XenrelError {
  const near = suggest(
    name,
    commandTable.map((c) => c.name),
  );
  return new XenrelError('E_UNKNOWN_COMMAND', `unknown command "${name}"`, {
    exitCode: ExitCode.usage,
    hint: near.length
      ? `did you mean ${near
          .slice(0, 3)
          .map((n) => `\`xenrel ${n}\``)
          .join(' or ')}?`
      : 'run `xenrel --help` to list the commands',
  });
}

/** The class of a named command, or a did-you-mean error. */
export async function loadCommand(name: string): Promise<CommandClass> {
  const entry = findCommand(name);
  if (!entry) throw unknownCommand(name);
  return entry.load();
}
