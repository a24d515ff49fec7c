/**
 * Shapes shared by stages that no schema defines. The config and the lock are typed from
 * their schemas: src/model/config.ts and src/model/lock.ts.
 */

/** One locked field that differs between two locks, or between a lock and upstream. */
export interface FieldChange {
  field: string;
  old?: unknown;
  new?: unknown;
}

/** Something that wants to hear about progress; the report layer implements it. */
export interface ProgressSink {
  /** A component started (total bytes when known). */
  start?(name: string, total?: number): void;
  /** Bytes arrived for a component. */
  advance?(name: string, bytes: number): void;
  /**
   * Absolute progress, for tools that report totals (git's `--progress`): bytes so far,
   * a total when known, else a percentage.
   */
  update?(name: string, p: { bytes?: number; total?: number; percent?: number; phase?: string; speed?: number }): void;
  /** The item ended; `status` is said in a line for people (none when empty). */
  done?(name: string, status: string): void;
  warn?(message: string): void;
  info?(message: string): void;
}
