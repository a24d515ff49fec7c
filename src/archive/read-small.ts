import { open as openCb, read as readCb, close as closeCb } from 'node:fs';

/**
 * A small file in one read of its known size (+1 byte, to notice growth): open, read, close
 * through the callback API — a third fewer thread-pool round trips than fs.promises.readFile,
 * which matters for 20k small files.
 */
export function readSmall(abs: string, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    openCb(abs, 'r', (err, fd) => {
      if (err) return reject(err);
      const buf = Buffer.allocUnsafe(size + 1);
      const finish = (e: Error | null, n: number) =>
        closeCb(fd, (ce) => (e || ce ? reject(e ?? ce) : resolve(buf.subarray(0, n))));
      let got = 0;
      const step = () =>
        readCb(fd, buf, got, buf.length - got, got, (re, n) => {
          if (re) return finish(re, 0);
          got += n;
          if (n === 0 || got === buf.length) return finish(null, got);
          step();
        });
      step();
    });
  });
}
