import type { Buffer } from 'node:buffer';
import { nodeBuiltins } from './primitives.js';

/** Areas larger than this (tokens well past the default maxTokenLength of 8192) are allocated per use, not kept. */
const SCRATCH_MAX = 16384;

const NodeBuffer = nodeBuiltins?.Buffer;

/**
 * A byte area reused from token to token, and the last view cut from it. The per-token paths (verify, sign) decode
 * and encode their segments here instead of allocating a Buffer each time: a Buffer is an object of ~100 bytes plus
 * its bytes in the pool or an ArrayBuffer, and at ~200 000 verifications/s that garbage is what brings scavenges
 * into the request path. Only for synchronous use that hands no view out: the next use overwrites the bytes — so
 * only the node path has them (the web path awaits in the middle of a verification). Without node:buffer an area
 * is never allocated: its first use would throw.
 */
export class Scratch {
  private area: Buffer;
  private view: Buffer;

  constructor(size: number) {
    this.area = NodeBuffer === undefined ? (undefined as unknown as Buffer) : NodeBuffer.alloc(size);
    this.view = NodeBuffer === undefined ? this.area : this.area.subarray(0, 0);
  }

  /** A Buffer with room for `n` bytes: the area, grown as needed up to SCRATCH_MAX; past that a new one, not kept. */
  bufferFor(n: number): Buffer {
    if (n <= this.area.length) return this.area;
    if (n > SCRATCH_MAX) return (NodeBuffer as typeof Buffer).allocUnsafe(n);
    this.area = (NodeBuffer as typeof Buffer).alloc(n);
    this.view = this.area.subarray(0, 0);
    return this.area;
  }

  /** The first `n` bytes of `of` (a Buffer `bufferFor` returned) as a Buffer of exactly that length: the same object while `n` repeats. */
  firstBytes(of: Buffer, n: number): Buffer {
    if (of !== this.area) return of.subarray(0, n);
    if (this.view.length !== n) this.view = this.area.subarray(0, n);
    return this.view;
  }
}
