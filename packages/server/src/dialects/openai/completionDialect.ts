import { randomBytes } from "node:crypto";
import { openaiLimits, type Completion, type CompletionChunk, type CompletionRequest } from "@quandex/protocol";
import type { GenerationDialect } from "../../inference/Dialect.js";
import { dataFrame, doneFrame } from "../../streaming/sseFrames.js";
import { openaiUsage } from "./openaiUsage.js";
import { keepAliveParam } from "../keepAliveParam.js";
import { promptsFromOpenAI, samplingFromOpenAI } from "./toNative.js";

/**
 * OpenAI's (legacy) completions: each prompt is one choice (its `index` is the prompt's position);
 * they run side by side on the model's sequences, and the request is admitted and accounted once.
 */
export const completionDialect: GenerationDialect<CompletionRequest, Completion> = {
    parse: (body) => ({
        kind: "generation",
        model: body.model,
        inputs: promptsFromOpenAI(body).map((prompt) => ({ prompt })),
        sampling: samplingFromOpenAI(body, body.max_tokens ?? openaiLimits.completionsDefaultMaxTokens),
        stream: body.stream === true,
        keepAliveMs: keepAliveParam(body.keep_alive)
    }),
    renderer: (body, run) => {
        const id = `cmpl-${randomBytes(12).toString("hex")}`;
        const created = Math.floor(Date.now() / 1000);
        const model = run.model;
        const echo = body.echo === true;
        const prompts = promptsFromOpenAI(body);
        return {
            json: ({ choices, usage }) => ({
                id,
                object: "text_completion",
                created,
                model,
                choices: choices.map((choice) => ({
                    text: echo ? prompts[choice.index]! + choice.text : choice.text,
                    index: choice.index,
                    logprobs: null,
                    finish_reason: choice.finishReason
                })),
                usage: openaiUsage(usage)
            }),
            stream: () => {
                const includeUsage = body.stream_options?.include_usage === true;
                const base = { id, object: "text_completion" as const, created, model, ...(includeUsage && { usage: null }) };
                const chunk = (index: number, text: string, finishReason: CompletionChunk["choices"][number]["finish_reason"]): string =>
                    dataFrame({ ...base, choices: [{ text, index, logprobs: null, finish_reason: finishReason }] } satisfies CompletionChunk);
                return {
                    started: (index) => (echo ? chunk(index, prompts[index]!, null) : undefined),
                    text: (index, text) => chunk(index, text, null),
                    finished: (choice) => chunk(choice.index, "", choice.finishReason),
                    end: ({ usage }) => (includeUsage ? dataFrame({ ...base, choices: [], usage: openaiUsage(usage) } satisfies CompletionChunk) : "") + doneFrame
                };
            }
        };
    }
};
