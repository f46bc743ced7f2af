import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mergeSummaries } from "../src/controlPlaneBench.js";
import { alternateRounds, mergeRounds, summarizeLevel, type RequestRecord } from "../src/metrics.js";

/** A request of `tokens` tokens, sent at `start`, first text after `ttft` ms, one chunk per ms after that. */
const request = (start: number, ttft: number, tokens: number): RequestRecord => ({
    start,
    chunkTimes: Array.from({ length: tokens }, (_, i) => start + ttft + i),
    end: start + ttft + tokens - 1,
    outputTokens: tokens
});

describe("mergeRounds", () => {
    it("adds tokens and time, weights means by count, and takes the median round's p50", () => {
        const options = { concurrency: 1, requestRate: null };
        const rounds = [
            summarizeLevel([request(0, 2, 11), request(20, 2, 11)], options), // 22 tokens in 32 ms, TTFT 2
            summarizeLevel([request(0, 4, 11), request(20, 4, 11)], options), // 22 tokens in 34 ms, TTFT 4
            summarizeLevel([request(0, 40, 11)], options) // a disturbed round: 11 tokens in 50 ms, TTFT 40
        ];
        const merged = mergeRounds(rounds);
        assert.equal(merged.rounds, 3);
        assert.equal(merged.completed, 5);
        assert.equal(merged.totalOutputTokens, 55);
        assert.ok(Math.abs(merged.durationS - 0.116) < 1e-9);
        assert.ok(Math.abs(merged.outputThroughput - 55 / 0.116) < 1e-6);
        assert.equal(merged.ttftMs.p50, 4, "the median of the rounds' p50 (2, 4, 40)");
        assert.equal(merged.ttftMs.mean, (2 + 2 + 4 + 4 + 40) / 5);
        assert.equal(merged.ttftMs.max, 40);
        assert.equal(mergeRounds([rounds[0]!]), rounds[0], "one round is itself");
    });

    it("alternates the two sides round by round", async () => {
        const order: string[] = [];
        const level = (side: string) => async () => {
            order.push(side);
            return summarizeLevel([request(0, 1, 3)], { concurrency: 1, requestRate: null });
        };
        const { a, b } = await alternateRounds(3, level("server"), level("baseline"));
        assert.deepEqual(order, ["server", "baseline", "server", "baseline", "server", "baseline"]);
        assert.equal(a.completed, 3);
        assert.equal(b?.completed, 3);
    });
});

describe("mergeSummaries (control plane rounds)", () => {
    it("takes each target's median round and counts every request and failure", () => {
        const round = (requestsPerSec: number, p50: number, non2xx = 0) => ({
            url: "http://127.0.0.1:1/v1/models",
            requestsPerSec,
            totalRequests: requestsPerSec * 5,
            latencyP50Ms: p50,
            latencyP99Ms: p50 * 3,
            non2xx,
            errors: 0
        });
        const merged = mergeSummaries([round(26_000, 0.3), round(19_000, 0.5, 2), round(27_000, 0.2)]);
        assert.equal(merged.requestsPerSec, 26_000);
        assert.equal(merged.latencyP50Ms, 0.3);
        assert.ok(Math.abs(merged.latencyP99Ms - 0.9) < 1e-9);
        assert.equal(merged.totalRequests, 360_000);
        assert.equal(merged.non2xx, 2);
    });
});
