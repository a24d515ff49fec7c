#!/usr/bin/env node
// A plain `node` shebang: `env -S` (to pass V8 flags) is not in BusyBox. V8 reads heap flags
// only at start-up (v8.setFlagsFromString later was measured to change nothing), so a smaller
// young generation is the user's choice: NODE_OPTIONS=--max-semi-space-size=2.
// Only the command table loads before a command is chosen; each command's module (and the
// libraries it needs) is imported when that command runs.
import { main } from './shell/main.js';
import { enableInterruptCleanup } from './util/interrupt-cleanup.js';

// Ctrl-C removes what a command had half made (a tarball's temp file, a release's staging
// folder, a first clone) and says so; the library alone never takes over signals.
enableInterruptCleanup();

process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
});
