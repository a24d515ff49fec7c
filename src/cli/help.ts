import { Command, Option } from 'clipanion';
import { XenrelError } from '../errors.js';
import { loadCommand, overview } from '../shell/overview.js';
import { commandHelp } from '../shell/usage.js';

export class HelpCommand extends Command {
  static override paths = [['help']];
  static override usage = Command.Usage({
    description: 'Show the commands, or the details of one (`xenrel help lock`)',
    examples: [
      ['List the commands', '$0 help'],
      ['Options, details and examples of one command', '$0 help lock'],
    ],
  });

  name = Option.String({ name: 'COMMAND', required: false });

  async execute(): Promise<number> {
    if (!this.name) {
      this.context.stdout.write(overview());
      return 0;
    }
    try {
      const cls = await loadCommand(this.name);
      this.context.stdout.write(
        commandHelp(
          this.name,
          cls,
          Boolean((this.context.stdout as NodeJS.WriteStream).isTTY) && !process.env.NO_COLOR,
        ),
      );
      return 0;
    } catch (err) {
      if (!(err instanceof XenrelError)) throw err;
      this.context.stderr.write(`error: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
      return err.exitCode;
    }
  }
}
