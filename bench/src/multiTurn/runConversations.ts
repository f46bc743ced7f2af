import { distribution, median, type Distribution } from "../metrics.js";
import { chatTurn, type ChatMessage, type TurnRecord } from "./chatTurn.js";
import { systemPrompt, userMessage } from "./conversationScript.js";

/** A multi-turn run at one concurrency: per turn index, and over all turns. */
export type MultiTurnLevel = {
    conversations: number;
    turns: number;
    /** TTFT of each turn index (index 0 is turn 1), over the conversations. */
    ttftByTurn: Distribution[];
    /** Output tokens over the wall time of the whole run. */
    outputThroughput: number;
    /** Prompt tokens the server counted, and of them the ones it reused from its cache (`null`: it did not say). */
    promptTokensSent: number;
    promptTokensCached: number | null;
    durationS: number;
    failed: number;
    errors: string[];
    /** How many rounds were merged into this figure. */
    rounds?: number;
};

export type ConversationsOptions = {
    /** The chat completions URL (`…/v1/chat/completions`). */
    url: URL;
    apiKey: string | null;
    model: string;
    conversations: number;
    turns: number;
    maxTokens: number;
    /** Opens every conversation's system prompt, so one round never reuses another's prompts (all conversations of a round share it). */
    round: string;
};

/**
 * Runs `conversations` chats at once, each `turns` turns long, re-sending the whole history each
 * turn (the system prompt, every earlier user message and reply), as chat clients do.
 */
export async function runConversations(options: ConversationsOptions): Promise<MultiTurnLevel> {
    // A connection per request on both sides: llama-server closes busy keep-alive connections, and one client rule keeps it fair.
    const agent = false;
    const byTurn: TurnRecord[][] = Array.from({ length: options.turns }, () => []);
    const started = performance.now();
    await Promise.all(
        Array.from({ length: options.conversations }, async (_, conversation) => {
            const messages: ChatMessage[] = [{ role: "system", content: `Session ${options.round}. ${systemPrompt}` }];
            for (let turn = 0; turn < options.turns; turn++) {
                messages.push({ role: "user", content: userMessage(conversation, turn) });
                const record = await chatTurn({ url: options.url, apiKey: options.apiKey, agent, model: options.model, messages, maxTokens: options.maxTokens });
                byTurn[turn]!.push(record);
                // A reply the server cut off with an error chunk (llama-server's chat parser refuses
                // some of a random-weight model's output with a 500) still goes on as the
                // conversation's turn, so a failure does not leave that side with less load; the
                // turn counts as failed. Any other failure ends the conversation.
                if (record.error !== undefined && !record.error.startsWith("error chunk:")) return;
                messages.push({ role: "assistant", content: record.text });
            }
        })
    );
    const durationS = (performance.now() - started) / 1000;
    const all = byTurn.flat();
    const ok = all.filter((r) => r.error === undefined);
    const cachedKnown = ok.every((r) => r.cachedTokens !== null);
    return {
        conversations: options.conversations,
        turns: options.turns,
        ttftByTurn: byTurn.map((records) => distribution(records.filter((r) => r.error === undefined).map((r) => r.ttftMs))),
        outputThroughput: ok.reduce((sum, r) => sum + r.outputTokens, 0) / durationS,
        promptTokensSent: ok.reduce((sum, r) => sum + (r.promptTokens ?? 0), 0),
        promptTokensCached: cachedKnown ? ok.reduce((sum, r) => sum + (r.cachedTokens ?? 0), 0) : null,
        durationS,
        failed: all.length - ok.length,
        errors: [...new Set(all.flatMap((r) => (r.error === undefined ? [] : [r.error])))].slice(0, 3)
    };
}

/** Rounds of one variant merged: medians of each turn's p50/p99 and of the throughput; sums of tokens and failures. */
export function mergeMultiTurn(rounds: readonly MultiTurnLevel[]): MultiTurnLevel {
    const first = rounds[0]!;
    if (rounds.length === 1) return { ...first, rounds: 1 };
    const mergeDistribution = (pick: (level: MultiTurnLevel) => Distribution): Distribution => {
        const values = rounds.map(pick);
        return {
            count: values.reduce((sum, d) => sum + d.count, 0),
            mean: median(values.map((d) => d.mean)),
            p50: median(values.map((d) => d.p50)),
            p99: median(values.map((d) => d.p99)),
            min: Math.min(...values.map((d) => d.min)),
            max: Math.max(...values.map((d) => d.max))
        };
    };
    const cached = rounds.map((r) => r.promptTokensCached);
    return {
        conversations: first.conversations,
        turns: first.turns,
        ttftByTurn: first.ttftByTurn.map((_, turn) => mergeDistribution((level) => level.ttftByTurn[turn]!)),
        outputThroughput: median(rounds.map((r) => r.outputThroughput)),
        promptTokensSent: rounds.reduce((sum, r) => sum + r.promptTokensSent, 0),
        promptTokensCached: cached.every((c) => c !== null) ? cached.reduce((sum: number, c) => sum + c!, 0) : null,
        durationS: rounds.reduce((sum, r) => sum + r.durationS, 0),
        failed: rounds.reduce((sum, r) => sum + r.failed, 0),
        errors: [...new Set(rounds.flatMap((r) => r.errors))].slice(0, 3),
        rounds: rounds.length
    };
}
