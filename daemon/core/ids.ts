import { randomFillSync } from 'node:crypto';

/**
 * 10 random hex digits, from a pool refilled 4 KB at a time: a
 * randomBytes() call per submission cost ~4 µs, a tenth of the daemon's CPU
 * time per submit.
 */
const randomPool = Buffer.alloc(4096);
let randomOffset = randomPool.length;
function randomHex10(): string {
  if (randomOffset + 5 > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  randomOffset += 5;
  return randomPool.toString('hex', randomOffset - 5, randomOffset);
}

/** `t` + time in base 36 + 10 random hex digits: sorts by creation time, unique in practice. */
export function newId(prefix: string, now: number): string {
  return `${prefix}${now.toString(36)}${randomHex10()}`;
}
