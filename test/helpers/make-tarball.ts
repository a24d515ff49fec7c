import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real .tar.gz made by GNU tar (sorted, owner 0, fixed mtime) of `files` under `top/`. */
export async function makeTarball(top: string, files: Record<string, string>): Promise<Buffer> {
  const d = await mkdtemp(join(tmpdir(), 'xenrel-tgz-'));
  try {
    for (const [p, c] of Object.entries(files)) {
      await mkdir(join(d, top, p, '..'), { recursive: true });
      await writeFile(join(d, top, p), c);
    }
    return execFileSync('tar', [
      '-C',
      d,
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--mtime=@1700000000',
      '-czf',
      '-',
      top,
    ]);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
}
