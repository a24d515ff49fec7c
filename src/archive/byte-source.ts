import { isZeroBlock } from './tar-format.js';

/** Exact-length reads over a chunk stream, without copying when a chunk holds the bytes. */
export class ByteSource {
  private cur: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private readonly it: AsyncIterator<Uint8Array>;
  /** Bytes consumed so far (the offset of the next read). */
  offset = 0;
  constructor(
    src: AsyncIterable<Uint8Array>,
    private readonly truncated: () => Error,
  ) {
    this.it = src[Symbol.asyncIterator]();
  }
  private async fill(): Promise<boolean> {
    for (;;) {
      const r = await this.it.next();
      if (r.done) return false;
      if (r.value.length) {
        this.cur = r.value;
        this.pos = 0;
        return true;
      }
    }
  }
  /**
   * n bytes; null at a clean end of input (nothing left); a shorter array when the input
   * ends inside them.
   */
  async read(n: number): Promise<Uint8Array | null> {
    if (this.pos === this.cur.length && !(await this.fill())) return null;
    if (this.cur.length - this.pos >= n) {
      const out = this.cur.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      if (this.pos === this.cur.length && !(await this.fill())) return out.subarray(0, got);
      const k = Math.min(n - got, this.cur.length - this.pos);
      out.set(this.cur.subarray(this.pos, this.pos + k), got);
      got += k;
      this.pos += k;
      this.offset += k;
    }
    return out;
  }
  /** Exactly n bytes, or the truncation error. */
  async readExactly(n: number): Promise<Buffer> {
    const b = n === 0 ? new Uint8Array(0) : await this.read(n);
    if (!b || b.length < n) throw this.truncated();
    return Buffer.from(b);
  }
  /**
   * n bytes if the current chunk holds them (no wait), else undefined: lets a parser stay
   * synchronous for the many small reads that never cross a chunk.
   */
  readNow(n: number): Uint8Array | undefined {
    if (this.cur.length - this.pos < n || n === 0) return undefined;
    const out = this.cur.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }
  /** The next n bytes if the current chunk holds them, without consuming them. */
  peekNow(n: number): Uint8Array | undefined {
    return this.cur.length - this.pos < n ? undefined : this.cur.subarray(this.pos, this.pos + n);
  }
  /** Bytes available without waiting. */
  get buffered(): number {
    return this.cur.length - this.pos;
  }
  /**
   * Passes n bytes to `fn` in pieces. Returns a promise only when it has to wait (for input
   * or for `fn`): tens of thousands of small entries otherwise cost a microtask each.
   */
  stream(n: number, fn?: (c: Uint8Array) => void | Promise<void>): void | Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.pos === this.cur.length) return this.streamSlow(left, fn);
      const k = Math.min(left, this.cur.length - this.pos);
      const piece = this.cur.subarray(this.pos, this.pos + k);
      this.pos += k;
      this.offset += k;
      left -= k;
      if (fn) {
        const r = fn(piece);
        if (r) {
          const rest = left;
          return r.then(() => this.stream(rest, fn));
        }
      }
    }
  }
  private async streamSlow(n: number, fn?: (c: Uint8Array) => void | Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.pos === this.cur.length && !(await this.fill())) throw this.truncated();
      const k = Math.min(left, this.cur.length - this.pos);
      const piece = this.cur.subarray(this.pos, this.pos + k);
      this.pos += k;
      this.offset += k;
      left -= k;
      if (fn) {
        const r = fn(piece);
        if (r) await r;
      }
    }
  }
  /** Consumes everything that is left; reports whether any of it was non-zero. */
  async rest(): Promise<{ bytes: number; nonZero: boolean }> {
    let bytes = 0;
    for (;;) {
      const slice = this.cur.subarray(this.pos);
      bytes += slice.length;
      this.offset += slice.length;
      if (!isZeroBlock(slice)) return { bytes, nonZero: true };
      this.pos = this.cur.length;
      if (!(await this.fill())) return { bytes, nonZero: false };
    }
  }
}
