import type { OutputConstraint, SamplingOptions } from "@quandex/engine";
import { QuandexError, type OllamaOptions } from "@quandex/protocol";

function refuse(param: string, detail: string): QuandexError {
    return new QuandexError("invalid_parameter", { param, detail }, { param });
}

/**
 * Ollama's `options` → sampling. `num_predict` -1 and -2 both mean "until the context is full"
 * (the engine's default). `num_ctx` cannot resize a loaded model's context per request here (the
 * context is fixed at load, per model, in the config); it is accepted, and a prompt that does not fit
 * the real context gets the usual 400. Options that steer the runner (num_gpu, num_thread, mirostat…)
 * are ignored, as Ollama ignores options a runner does not use.
 */
export function samplingFromOllama(options: OllamaOptions | undefined): Partial<SamplingOptions> {
    const sampling: Partial<SamplingOptions> = {};
    if (!options) return sampling;
    if (options.temperature !== undefined) sampling.temperature = options.temperature;
    if (options.top_p !== undefined) sampling.topP = options.top_p;
    if (options.top_k !== undefined) sampling.topK = options.top_k;
    if (options.seed !== undefined) sampling.seed = ((options.seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
    if (options.num_predict !== undefined && options.num_predict > 0) sampling.maxTokens = options.num_predict;
    if (options.num_predict === 0) throw refuse("options.num_predict", "must be positive, or -1 / -2 for no limit.");
    if (options.stop !== undefined) sampling.stop = options.stop;
    if (options.repeat_penalty !== undefined) sampling.repeatPenalty = options.repeat_penalty;
    if (options.presence_penalty) sampling.presencePenalty = options.presence_penalty;
    if (options.frequency_penalty) sampling.frequencyPenalty = options.frequency_penalty;
    return sampling;
}

/** `format`: `"json"` is any JSON object, an object is a JSON Schema; both are grammar-enforced. */
export function constraintFromOllama(format: "json" | "" | Record<string, unknown> | undefined): OutputConstraint | undefined {
    if (format === undefined || format === "") return undefined;
    if (format === "json") return { type: "json" };
    return { type: "json_schema", schema: format };
}

export function refuseImages(images: readonly string[] | null | undefined, param: string): void {
    if (images && images.length > 0) throw refuse(param, "images are not supported by the models Quandex serves.");
}
