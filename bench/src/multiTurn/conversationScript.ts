import { SeededRandom } from "@quandex/test-support";

/**
 * The multi-turn chat workload's text, the shape vLLM's prefix-caching and multi-turn benchmarks
 * use: every conversation opens with the same long system prompt (about 400 tokens with the test
 * model's 512-token vocabulary, ~1,500 characters), then each turn adds a user message of 20 to 40
 * tokens. Deterministic per conversation, so every variant sends the same text.
 */
export const systemPrompt = [
    "You are a patient storyteller for small children. Every story you tell is short, kind and simple.",
    "The stories happen in a little town with a park, a river, a big red barn and a bakery that smells of bread.",
    "The children in the town are called Lily, Ben, Tom, Sue, Max and Anna, and they have a dog named Spot and a cat named Kit.",
    "When a child asks for a story, you answer with a few sentences about the children, the animals and the town.",
    "You never use long words. You say what the children see, what they feel and what they do next.",
    "If a child asks a question, you answer it in the story. If a child is sad, the story ends with a hug.",
    "The sun is warm in the morning, the river is cold in the afternoon, and the stars come out at night.",
    "Mom bakes cookies on Sundays. Dad fixes the old blue bike. Grandma tells the children about the moon.",
    "Every story has a beginning, a middle and an end, and the end is always happy and safe."
].join(" ");

const words = [
    "the",
    "dog",
    "cat",
    "ran",
    "park",
    "sun",
    "big",
    "red",
    "ball",
    "happy",
    "Lily",
    "Ben",
    "Tom",
    "jumped",
    "river",
    "tree",
    "bird",
    "sang",
    "mom",
    "said",
    "cookie",
    "barn",
    "little",
    "friend",
    "played",
    "saw",
    "moon",
    "hug"
];

/** The user message of turn `turn` (0-based) of conversation `conversation`: 20 to 40 tokens of plain words. */
export function userMessage(conversation: number, turn: number): string {
    const random = new SeededRandom(1000 * (conversation + 1) + turn);
    // About one token per 3.5 characters here: 9 to 17 short words make 20 to 40 tokens.
    const count = 9 + (random.nextUint32() % 9);
    const picked = Array.from({ length: count }, () => words[random.nextUint32() % words.length]!);
    return `Tell me what happens next: ${picked.join(" ")}.`;
}
