/**
 * MD5 (RFC 1321, https://www.rfc-editor.org/rfc/rfc1321) whose running state can be saved as JSON and taken up
 * again, so a completion report file read across several invocations of "Verify results" is still checked against
 * the MD5 its report manifest lists. node:crypto's hashes cannot be saved mid-stream; MD5 is used here only as the
 * manifest's integrity check, not for security.
 */

export interface Md5State {
  /** The four 32-bit words A, B, C, D. */
  words: [number, number, number, number];
  /** Bytes hashed so far. */
  length: number;
  /** The bytes after the last whole 64-byte block, base64. */
  tail: string;
}

const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4,
  11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
];
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);

export class Md5 {
  private readonly h: Int32Array;
  private length: number;
  private readonly block = Buffer.alloc(64);
  private blockBytes: number;
  private readonly x = new Int32Array(16);

  constructor(state?: Md5State) {
    this.h = Int32Array.from(state?.words ?? [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
    this.length = state?.length ?? 0;
    const tail = Buffer.from(state?.tail ?? "", "base64");
    tail.copy(this.block);
    this.blockBytes = tail.length;
  }

  update(data: Uint8Array): this {
    let at = 0;
    this.length += data.length;
    if (this.blockBytes > 0) {
      const n = Math.min(64 - this.blockBytes, data.length);
      this.block.set(data.subarray(0, n), this.blockBytes);
      this.blockBytes += n;
      at = n;
      if (this.blockBytes < 64) return this;
      this.compress(this.block, 0);
      this.blockBytes = 0;
    }
    for (; at + 64 <= data.length; at += 64) this.compress(data, at);
    this.block.set(data.subarray(at), 0);
    this.blockBytes = data.length - at;
    return this;
  }

  /** The state to take up again with `new Md5(state)`. */
  save(): Md5State {
    const [a = 0, b = 0, c = 0, d = 0] = this.h;
    return {
      words: [a, b, c, d],
      length: this.length,
      tail: this.block.subarray(0, this.blockBytes).toString("base64"),
    };
  }

  /** The digest, lower-case hex, of everything given so far (the running state is left as it was). */
  hex(): string {
    const copy = new Md5(this.save());
    const bits = this.length * 8;
    const padding = Buffer.alloc(((55 - this.length) & 63) + 9);
    padding[0] = 0x80;
    padding.writeUInt32LE(bits >>> 0, padding.length - 8);
    padding.writeUInt32LE(Math.floor(bits / 2 ** 32) >>> 0, padding.length - 4);
    copy.update(padding);
    const out = Buffer.alloc(16);
    for (let i = 0; i < 4; i++) out.writeInt32LE(copy.h[i] ?? 0, i * 4);
    return out.toString("hex");
  }

  private compress(data: Uint8Array, at: number): void {
    const x = this.x;
    for (let i = 0; i < 16; i++) {
      const j = at + i * 4;
      x[i] = (data[j] ?? 0) | ((data[j + 1] ?? 0) << 8) | ((data[j + 2] ?? 0) << 16) | ((data[j + 3] ?? 0) << 24);
    }
    const h = this.h;
    let a = h[0] ?? 0;
    let b = h[1] ?? 0;
    let c = h[2] ?? 0;
    let d = h[3] ?? 0;
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const s = S[i] ?? 0;
      const sum = (a + f + (K[i] ?? 0) + (x[g] ?? 0)) | 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    }
    h[0] = ((h[0] ?? 0) + a) | 0;
    h[1] = ((h[1] ?? 0) + b) | 0;
    h[2] = ((h[2] ?? 0) + c) | 0;
    h[3] = ((h[3] ?? 0) + d) | 0;
  }
}
