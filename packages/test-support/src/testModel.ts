import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// From dist/ (what the package exports) up to the checkout.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** The real test model: `QUANDEX_TEST_MODEL` or `../shared/models/stories260K.gguf` beside the checkout. */
export const testModelPath = process.env.QUANDEX_TEST_MODEL ?? path.resolve(repoRoot, "../shared/models/stories260K.gguf");

export function requireTestModel(): string {
    if (!existsSync(testModelPath)) throw new Error(`test model not found at ${testModelPath}; set QUANDEX_TEST_MODEL`);
    return testModelPath;
}

/** Greedy output of stories260K for "Once upon a time", max_tokens 100 (../shared/models/README.md). */
export const goldenText =
    ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do";
