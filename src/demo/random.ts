/** A seeded source of randomness: the same seed always gives the same sequence. */
export interface Random {
  /** A number in [0, 1). */
  next(): number;
  /** A whole number from min to max, both included. */
  int(min: number, max: number): number;
  /** A number from min to max. */
  between(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** About `mean`, rarely far from it: log-normal with the given spread. */
  around(mean: number, spread?: number): number;
  /** Lowercase hex digits, like a commit SHA. */
  hex(length: number): string;
  /** A new source, seeded from this one and `label`, so adding draws here does not shift it. */
  fork(label: string): Random;
}

/**
 * A {@link Random} from a seed and labels (mulberry32 over an FNV-1a hash of them). Tests and
 * the demo need the same deliveries for the same seed, which `Math.random` cannot give.
 */
export function createRandom(seed: number, ...labels: string[]): Random {
  let state = hash([String(seed), ...labels].join("\u0000"));
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const random: Random = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    between: (min, max) => min + next() * (max - min),
    chance: (probability) => next() < probability,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    around(mean, spread = 0.2) {
      // Box-Muller: a normal draw, exponentiated.
      const u = 1 - next();
      const v = next();
      const normal = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      return mean * Math.exp(spread * normal - (spread * spread) / 2);
    },
    hex(length) {
      let out = "";
      while (out.length < length) out += Math.floor(next() * 16).toString(16);
      return out;
    },
    fork: (label) => createRandom(seed, ...labels, label),
  };
  return random;
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
