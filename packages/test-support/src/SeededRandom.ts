/**
 * Seeded pseudo-random numbers for the benchmark: sfc32 (Chris Doty-Humphrey's Small Fast Counter),
 * which passes PractRand and needs only 32-bit integer operations, plus Box-Muller normals and
 * exponential inter-arrival times. Deterministic for a seed, so a model or an arrival schedule can be
 * made again bit for bit.
 */
export class SeededRandom {
    private a: number;
    private b: number;
    private c: number;
    private counter = 1;
    private spareNormal: number | null = null;

    constructor(seed: number) {
        this.a = 0x9e3779b9;
        this.b = 0x243f6a88;
        this.c = seed >>> 0;
        for (let i = 0; i < 15; i++) this.nextUint32(); // mix the seed in
    }

    nextUint32(): number {
        const t = (((this.a + this.b) | 0) + this.counter) | 0;
        this.counter = (this.counter + 1) | 0;
        this.a = this.b ^ (this.b >>> 9);
        this.b = (this.c + (this.c << 3)) | 0;
        this.c = (this.c << 21) | (this.c >>> 11);
        this.c = (this.c + t) | 0;
        return t >>> 0;
    }

    /** Uniform in (0, 1]: never 0, so `Math.log` of it is finite. */
    nextUnitOpenZero(): number {
        return (this.nextUint32() + 1) / 4294967296;
    }

    /** Standard normal by Box-Muller; each pair of uniforms gives two normals. */
    nextNormal(): number {
        if (this.spareNormal != null) {
            const spare = this.spareNormal;
            this.spareNormal = null;
            return spare;
        }
        const radius = Math.sqrt(-2 * Math.log(this.nextUnitOpenZero()));
        const angle = 2 * Math.PI * this.nextUnitOpenZero();
        this.spareNormal = radius * Math.sin(angle);
        return radius * Math.cos(angle);
    }

    /** Fills `target` with normal values of the given standard deviation (mean 0). */
    fillNormal(target: Float32Array, std: number): void {
        for (let i = 0; i < target.length; i++) target[i] = this.nextNormal() * std;
    }

    /** Exponential with the given rate (events per unit time): Poisson-process inter-arrival times. */
    nextExponential(rate: number): number {
        return -Math.log(this.nextUnitOpenZero()) / rate;
    }
}
