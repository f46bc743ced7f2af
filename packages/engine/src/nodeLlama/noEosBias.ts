import { TokenBias, type LlamaModel, type Token } from "node-llama-cpp";

/**
 * A token bias that makes end-of-generation tokens impossible, as llama.cpp's server does for
 * `ignore_eos`. node-llama-cpp 3.21.1's public `TokenBias.set` silently skips EOG tokens, so the
 * entries go straight into the map its addon reads (`_biases`); the version is pinned, and a test
 * on a model that does emit EOS fails if this stops working.
 */
export function noEosBias(model: LlamaModel, eogTokens: readonly Token[]): TokenBias {
    const bias = new TokenBias(model.tokenizer);
    const biases = (bias as unknown as { _biases?: Map<Token, number> })._biases;
    if (!(biases instanceof Map)) throw new Error("node-llama-cpp's TokenBias changed shape; ignore_eos needs updating");
    for (const token of eogTokens) biases.set(token, -Infinity);
    return bias;
}
