/**
 * The fixed prompt set. Request i uses `benchPrompts[i % benchPrompts.length]`, on the server and in
 * the baseline alike, so both do the same work. Short TinyStories-style openings (3 to 10 tokens with
 * the test model's tokenizer): the benchmark measures decode and serving overhead, not long prefill.
 */
export const benchPrompts: readonly string[] = [
    "Once upon a time",
    "Lily and Ben",
    "The cat sat",
    "One day, a little bird",
    "Tom had a red ball.",
    "The sun was hot.",
    "Mom said",
    "They went to the park"
];

export function promptFor(index: number): string {
    return benchPrompts[index % benchPrompts.length]!;
}

/** Sampling seed sent with every request (it does not matter at temperature 0, but pins the request). */
export const benchSeed = 1234;
