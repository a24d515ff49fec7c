// The command line's whole run, with its streams given: the binary (src/cli.ts) passes the
// process's own, tests pass captured ones to run a command in their own process.
import type { Readable, Writable } from 'node:stream';
import { ExitCode, XenrelError } from '../errors.js';
import { loadCommand, overview } from './overview.js';
import { XENREL_VERSION } from '../version.js';

export interface MainStreams {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/**
 * Options whose value is itself a list of flags (`plan --configure "--enable-ovmf"`):
 * clipanion would read the value as an option, so join it as `--configure=VALUE`.
 */
const FLAG_VALUED = new Set(['--configure']);
function joinFlagValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (FLAG_VALUED.has(a) && i + 1 < argv.length) out.push(`${a}=${argv[++i]}`);
    else out.push(a);
  }
  return out;
}

const wantsHelp = (args: string[]) => {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--help');
};

/** Runs `xenrel ARGV…` and returns its exit code. */
export async function main(argv: string[], io: MainStreams): Promise<number> {
  const colored = Boolean((io.stdout as Partial<NodeJS.WriteStream>).isTTY) && !process.env.NO_COLOR;
  const args = joinFlagValues(argv);
  const [name, ...rest] = args;
  if (name === undefined || name === '-h' || name === '--help') {
    io.stdout.write(overview());
    return ExitCode.ok;
  }
  if (name === '-v' || name === '--version') {
    io.stdout.write(`${XENREL_VERSION}\n`);
    return ExitCode.ok;
  }
  if (name === 'hash') {
    const code = await (await import('../cli/hash-fast.js')).hashFast(rest, io);
    if (code !== undefined) return code;
  }
  let cls;
  try {
    if (name.startsWith('-'))
      throw new XenrelError('E_USAGE', `unknown option "${name}" before the command`, {
        hint: 'options go after the command name: `xenrel COMMAND --help` lists them',
      });
    cls = await loadCommand(name);
  } catch (err) {
    if (!(err instanceof XenrelError)) throw err;
    io.stderr.write(`error: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
    return err.exitCode;
  }
  const { commandHelp, newCli } = await import('./usage.js');
  const { withValueNames } = await import('./value-names.js');
  if (wantsHelp(rest)) {
    io.stdout.write(commandHelp(name, cls, colored));
    return ExitCode.ok;
  }
  const cli = newCli(colored);
  cli.register(cls);
  let command;
  try {
    command = cli.process(args);
  } catch (err) {
    // An unknown option or a missing argument: a usage error, exit 2 as documented.
    io.stderr.write(withValueNames(cli.error(err as Error), name));
    return ExitCode.usage;
  }
  return cli.run(command, io);
}
