import { randomBytes } from "node:crypto";
import { formatBytes, formatDuration, type GenerateChunk, type GenerateRequest, type GenerateResponse, type MetalStats } from "@quandex/protocol";
import type { GenerationDialect } from "../../inference/Dialect.js";
import type { ChoiceResult, InferenceRun, RunUsage } from "../../inference/InferenceRun.js";
import { dataFrame, doneFrame } from "../../streaming/sseFrames.js";
import { keepAliveParam } from "../keepAliveParam.js";

/**
 * The reference's own dialect, `POST /v1/generate`: one prompt, one choice, the answer in the
 * reference's shape with `usage` and measured `metal_stats`; `model` echoes the name asked for.
 */
export const janGenerateDialect: GenerationDialect<GenerateRequest, GenerateResponse> = {
    parse: (body) => ({
        kind: "generation",
        model: body.model,
        inputs: [{ prompt: body.prompt }],
        sampling: {
            temperature: body.temperature,
            topP: body.top_p,
            topK: body.top_k,
            seed: body.seed,
            repeatPenalty: body.repeat_penalty,
            ignoreEos: body.ignore_eos,
            maxTokens: body.max_tokens,
            stop: body.stop === undefined ? undefined : typeof body.stop === "string" ? [body.stop] : body.stop
        },
        stream: body.stream === true,
        keepAliveMs: keepAliveParam(body.keep_alive)
    }),
    renderer: (body, run) => {
        const id = `gen_${randomBytes(12).toString("hex")}`;
        const model = body.model;
        return {
            json: ({ choices, usage }) => {
                const choice = choices[0]!;
                const { prompt_tokens, completion_tokens, total_tokens } = usage;
                return {
                    id,
                    model,
                    choices: [{ text: choice.text, finish_reason: choice.finishReason }],
                    usage: { prompt_tokens, completion_tokens, total_tokens },
                    metal_stats: metalStats(run, choice)
                };
            },
            stream: () => ({
                text: (_index, text) => dataFrame({ id, model, choices: [{ text, finish_reason: null }] } satisfies GenerateChunk),
                finished: (choice) =>
                    dataFrame({
                        id,
                        model,
                        choices: [{ text: "", finish_reason: choice.finishReason }],
                        usage: choiceUsage(choice),
                        metal_stats: metalStats(run, choice)
                    } satisfies GenerateChunk),
                end: () => doneFrame
            })
        };
    }
};

function choiceUsage(choice: ChoiceResult): RunUsage {
    const { promptTokens, completionTokens } = choice.done;
    return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** Measured, never a constant: see the README's `metal_stats` notes. */
function metalStats(run: InferenceRun, choice: ChoiceResult): MetalStats {
    const resources = run.resources();
    const elapsedMs = performance.now() - run.receivedAt;
    const seconds = choice.done.generationMs / 1000;
    // An upstream pool's server does not say what runs the model: null, not a guess.
    const remote = resources.remote === true;
    return {
        backend: remote ? null : resources.backend,
        mps_allocated: remote ? null : formatBytes(resources.acceleratorBytes),
        mps_allocated_bytes: remote ? null : resources.acceleratorBytes,
        batch_size: choice.done.batchSize,
        processing_time: formatDuration(elapsedMs),
        processing_time_ms: round(elapsedMs),
        queue_time_ms: round(choice.queuedMs),
        tokens_per_second: seconds > 0 ? round(choice.done.completionTokens / seconds) : 0,
        cached_tokens: choice.done.cachedTokens,
        gpu_layers: remote ? null : resources.gpuLayers
    };
}

function round(value: number): number {
    return Math.round(value * 100) / 100;
}
