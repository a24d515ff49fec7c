import type { CommandClass } from 'clipanion';
import { BumpCommand } from './bump.js';
import { CleanCommand } from './clean.js';
import { DiffCommand } from './diff.js';
import { ExportCommand } from './export.js';
import { FetchCommand } from './fetch.js';
import { HashCommand } from './hash.js';
import { InitCommand } from './init.js';
import { LockCommand } from './lock.js';
import { MirrorCommand } from './mirror.js';
import { ReleaseCommand } from './release.js';
import { SbomCommand } from './sbom.js';
import { VerifyCommand } from './verify.js';
import { PlanCommand } from './plan.js';
import { StatusCommand } from './status.js';
import { VendorCommand } from './vendor.js';

/** Every command, one line each (one command a file in src/cli/). */
export const commands: CommandClass[] = [
  InitCommand,
  PlanCommand,
  LockCommand,
  FetchCommand,
  StatusCommand,
  BumpCommand,
  VendorCommand,
  CleanCommand,
  ReleaseCommand,
  VerifyCommand,
  HashCommand,
  MirrorCommand,
  SbomCommand,
  DiffCommand,
  ExportCommand,
];
