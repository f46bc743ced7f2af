import { generateOnce } from "./generateOnce.js";
import { readStats } from "./readStats.js";
import { soakFigure, type SoakFigure } from "./SoakFigure.js";
import type { SoakServer } from "./SoakServer.js";

export type OverloadOptions = {
    server: SoakServer;
    engine: string;
    checkKey: string;
    /** Whether the latency bound is a pass criterion (the full run) or only reported (CI, on shared cores). */
    assertLatency: boolean;
};

/**
 * Ten times the configured queue at once. Pass: what the server cannot hold is refused at once
 * with 503 `server_busy` (the catalogue's code for a full queue) and a Retry-After, the queue
 * (watched through `/v1/stats` every few ms) never exceeds its bound, and the p99 latency of the
 * admitted requests stays within 2× of the same requests sent without the excess.
 */
export async function overloadScenario(options: OverloadOptions): Promise<SoakFigure> {
    const { server, checkKey } = options;
    const queue = server.options.maxQueue;
    const capacity = server.options.parallel + queue;
    const body = {
        model: server.options.modelId,
        prompt: "Once upon a time",
        max_tokens: 64,
        ignore_eos: true,
        temperature: 0
    };
    const failures: string[] = [];

    // Unloaded: as many requests as the server holds (sequences + queue), nothing refused.
    await generateOnce(server.baseUrl, checkKey, body);
    const unloaded = await Promise.all(Array.from({ length: capacity }, () => generateOnce(server.baseUrl, checkKey, body)));
    const unloadedRefused = unloaded.filter((r) => !r.ok).length;
    if (unloadedRefused > 0) failures.push(`${unloadedRefused} of ${capacity} requests were refused with no excess`);
    const unloadedP99 = percentile(
        unloaded.filter((r) => r.ok).map((r) => r.ms),
        0.99
    );

    // Overloaded: 10× the queue at once, the queue watched meanwhile.
    let maxQueueSeen = 0;
    let watching = true;
    const watcher = (async () => {
        while (watching) {
            const stats = await readStats(server.baseUrl, checkKey);
            maxQueueSeen = Math.max(maxQueueSeen, stats.queueDepth);
            await new Promise((resolve) => setTimeout(resolve, 5));
        }
    })();
    const sent = 10 * queue;
    const results = await Promise.all(Array.from({ length: sent }, () => generateOnce(server.baseUrl, checkKey, body)));
    watching = false;
    await watcher;

    const admitted = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    const wrongRefusals = refused.filter((r) => r.status !== 503 || r.code !== "server_busy" || !/^\d+$/.test(r.retryAfter ?? ""));
    if (wrongRefusals.length > 0) {
        const first = wrongRefusals[0]!;
        failures.push(`${wrongRefusals.length} refusal(s) were not 503 server_busy with Retry-After (e.g. ${first.status} ${first.code} retry-after=${first.retryAfter})`);
    }
    if (maxQueueSeen > queue) failures.push(`the queue reached ${maxQueueSeen}, past its bound of ${queue}`);
    const admittedP99 = percentile(
        admitted.map((r) => r.ms),
        0.99
    );
    const refusalP99 = percentile(
        refused.map((r) => r.ms),
        0.99
    );
    const ratio = admittedP99 !== null && unloadedP99 !== null ? admittedP99 / unloadedP99 : null;
    if (options.assertLatency && (ratio === null || ratio > 2))
        failures.push(`p99 of admitted requests ${admittedP99?.toFixed(0)} ms against ${unloadedP99?.toFixed(0)} ms unloaded (more than 2×)`);
    return soakFigure(
        "overload",
        options.engine,
        {
            queue_bound: queue,
            sequences: server.options.parallel,
            sent,
            admitted: admitted.length,
            refused_503: refused.length - wrongRefusals.length,
            refused_other: wrongRefusals.length,
            max_queue_seen: maxQueueSeen,
            refusal_p99_ms: refusalP99,
            admitted_p99_ms: admittedP99,
            unloaded_p99_ms: unloadedP99,
            p99_ratio: ratio
        },
        failures
    );
}

function percentile(values: number[], p: number): number | null {
    if (values.length === 0) return null;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
