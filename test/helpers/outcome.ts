/**
 * Outcomes for `npm run hardening`: a test records what it actually observed (error code,
 * exit code) on its own task's meta, and the hardening reporter prints it. Recording never
 * affects the test; outside vitest it does nothing.
 */
import { getCurrentTest } from 'vitest/suite';

export interface Outcome {
  code: string;
  exit?: number;
}

declare module '@vitest/runner' {
  interface TaskMeta {
    outcomes?: Outcome[];
  }
}

export function recordOutcome(code: string, exit?: number): void {
  const t = getCurrentTest();
  if (!t) return;
  const list = (t.meta.outcomes ??= []);
  if (!list.some((o) => o.code === code && o.exit === exit))
    list.push({ code, ...(exit === undefined ? {} : { exit }) });
}
