import type { ProgressSink } from '../../types.js';

/** What every step of the git source (mirror, refs, lock and fetch) takes. */
export interface GitSourceOptions {
  /** Never touch the network: fail with E_OFFLINE_MISSING when something is missing. */
  offline?: boolean;
  progress?: ProgressSink;
  /** Name shown in progress and errors (the component name). */
  label?: string;
  /** How long a dead process's mirror lock blocks others (ms, >= 2000); default 30 s. */
  lockStaleMs?: number;
  /**
   * Mirror base URLs (`mirrors:` of the config): a missing commit is first fetched from
   * `<mirror>/git/<basename>.git` (the layout `xenrel mirror` writes), then from the URL.
   * Whatever a mirror serves is checked like upstream's bytes: by commit id, then tree hash.
   */
  mirrors?: string[];
  /** Never contact the URL itself, only `mirrors` (Yocto's BB_FETCH_PREMIRRORONLY). */
  premirrorOnly?: boolean;
}
