import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { SeededRandom } from "@quandex/test-support";
import { greedyRequest } from "./generateOnce.js";
import { rawRequest } from "./rawRequest.js";
import { readStats } from "./readStats.js";
import { soakFigure, type SoakFigure } from "./SoakFigure.js";
import type { SoakServer } from "./SoakServer.js";

export type DisconnectOptions = {
    server: SoakServer;
    engine: string;
    /** Streams in all: a tenth are cut alone (to time each release), the rest run 8 at a time. */
    streams: number;
    seed: number;
    checkKey: string;
    expectedText: string;
};

type CutPoint = "mid-prompt" | "before-headers" | "mid-stream";
const cutPoints: CutPoint[] = ["mid-prompt", "before-headers", "mid-stream"];
/** How long a sequence may stay taken after its client went away (issue #19). */
const RELEASE_BOUND_MS = 100;

/**
 * Streams cut at a random point (in the middle of the request body, after the request but before
 * the headers came back, or after some of the stream) while other streams run to the end. Pass:
 * each cut stream's sequence is free within 100 ms (timed on cuts made alone, through
 * `/v1/stats`), nothing is taken once every client is gone, every survivor's text is the greedy
 * output, and the server's log has no unhandled rejection.
 */
export async function disconnectScenario(options: DisconnectOptions): Promise<SoakFigure> {
    const { server, checkKey } = options;
    const seeded = new SeededRandom(options.seed);
    const unit = (): number => seeded.nextUint32() / 2 ** 32;
    const below = (n: number): number => Math.floor(unit() * n);
    const modelId = server.options.modelId;
    const longBody = Buffer.from(
        JSON.stringify({
            model: modelId,
            prompt: "Once upon a time",
            max_tokens: 400,
            ignore_eos: true,
            stream: true
        })
    );
    const survivorBody = Buffer.from(JSON.stringify({ model: modelId, ...greedyRequest, stream: true }));
    const failures: string[] = [];

    // Cuts made alone: the time from the cut until /v1/stats shows every sequence free again.
    const solo = Math.max(3, Math.round(options.streams / 10));
    const releaseMs: number[] = [];
    const worstByPoint = new Map<CutPoint, number>();
    // The first /v1/stats answers slowly (the device probe warms up); that is not a release time.
    for (let i = 0; i < 3; i++) await readStats(server.baseUrl, checkKey);
    for (let i = 0; i < solo; i++) {
        const point = cutPoints[i % cutPoints.length]!;
        // A mid-prompt cut never reaches a sequence; the other two must take one first.
        await cutStream(server.baseUrl, checkKey, longBody, point, 1 + below(4000));
        const cutAt = performance.now();
        for (;;) {
            const stats = await readStats(server.baseUrl, checkKey);
            if (stats.activeSequences === 0 && stats.queueDepth === 0) break;
            if (performance.now() - cutAt > 5_000) {
                failures.push(`a ${point} cut left ${stats.activeSequences} sequence(s) taken for 5 s`);
                break;
            }
            await sleep(2);
        }
        const released = performance.now() - cutAt;
        releaseMs.push(released);
        worstByPoint.set(point, Math.max(worstByPoint.get(point) ?? 0, released));
    }

    // The mixed run: cuts at random points while survivors stream to the end, 8 clients at a time.
    let survivors = 0;
    let wrongSurvivors = 0;
    let cuts = 0;
    let next = solo;
    const client = async (): Promise<void> => {
        while (next < options.streams) {
            next++;
            if (unit() < 0.3) {
                survivors++;
                const answer = await rawRequest({
                    method: "POST",
                    baseUrl: server.baseUrl,
                    path: "/v1/generate",
                    headers: jsonHeaders(checkKey),
                    body: survivorBody,
                    timeoutMs: 60_000
                });
                const text = answer.kind === "response" && answer.status === 200 ? sseText(answer.body.toString("utf8")) : null;
                if (text !== options.expectedText) {
                    wrongSurvivors++;
                    if (wrongSurvivors <= 3)
                        failures.push(
                            `a survivor got ${answer.kind === "response" ? `HTTP ${answer.status} ${JSON.stringify(text ?? answer.body.toString("utf8", 0, 200))}` : answer.error}`
                        );
                }
            } else {
                cuts++;
                await cutStream(server.baseUrl, checkKey, longBody, cutPoints[below(cutPoints.length)]!, 1 + below(4000));
            }
        }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    const lastClientGone = performance.now();
    let settled: number | null = null;
    while (performance.now() - lastClientGone < 5_000) {
        const stats = await readStats(server.baseUrl, checkKey);
        if (stats.activeSequences === 0 && stats.queueDepth === 0) {
            settled = performance.now() - lastClientGone;
            break;
        }
        await sleep(2);
    }
    // The server's own words for a fault nothing handled: a process-level rejection or exception, or
    // an error its error handler could not place ("unhandled error", answered as internal_error).
    const unhandled = server
        .log()
        .split("\n")
        .filter((line) => /unhandled|uncaught/i.test(line));

    const worst = Math.max(...releaseMs);
    for (const [point, ms] of worstByPoint)
        if (ms > RELEASE_BOUND_MS) failures.push(`a ${point} cut's sequence took ${ms.toFixed(1)} ms to be freed (bound ${RELEASE_BOUND_MS} ms)`);
    if (settled === null) failures.push("sequences were still taken 5 s after the last client went away");
    else if (settled > RELEASE_BOUND_MS) failures.push(`${settled.toFixed(1)} ms after the last client went away sequences were still taken`);
    if (unhandled.length > 0) failures.push(`the log has ${unhandled.length} unhandled rejection/exception line(s): ${unhandled[0]!.slice(0, 300)}`);
    if (wrongSurvivors > 3) failures.push(`${wrongSurvivors} survivors in all got a wrong or incomplete answer`);
    const sorted = [...releaseMs].sort((a, b) => a - b);
    return soakFigure(
        "disconnects",
        options.engine,
        {
            streams: options.streams,
            cut: cuts + solo,
            survivors,
            survivors_wrong: wrongSurvivors,
            release_p50_ms: sorted[Math.floor(sorted.length / 2)] ?? null,
            release_max_ms: worst,
            ...Object.fromEntries([...worstByPoint].map(([point, ms]) => [`release_max_${point.replace("-", "_")}_ms`, ms])),
            idle_after_last_ms: settled,
            unhandled_in_log: unhandled.length
        },
        failures
    );
}

/** Sends a streaming request and drops the connection at `point`; `bytes` of the stream are read first when cutting mid-stream. */
function cutStream(baseUrl: string, apiKey: string, body: Buffer, point: CutPoint, bytes: number): Promise<void> {
    const url = new URL(baseUrl);
    return new Promise((resolve) => {
        const socket = net.connect({ host: url.hostname, port: Number(url.port) });
        const done = (): void => {
            socket.destroy();
            resolve();
        };
        socket.on("error", done);
        socket.on("close", done);
        const head = `POST /v1/generate HTTP/1.1\r\nhost: ${url.host}\r\n${Object.entries(jsonHeaders(apiKey))
            .map(([k, v]) => `${k}: ${v}\r\n`)
            .join("")}content-length: ${body.length}\r\n\r\n`;
        if (point === "mid-prompt") {
            socket.write(head);
            socket.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(done, 5));
            return;
        }
        socket.write(head);
        if (point === "before-headers") {
            // Wait until the server has the whole request (and the sequence), then go before any byte of the answer is read.
            socket.write(body, () => setTimeout(done, 2));
            return;
        }
        socket.write(body);
        let read = 0;
        let headersSeen = false;
        socket.on("data", (chunk: Buffer) => {
            headersSeen ||= chunk.includes("\r\n\r\n");
            if (headersSeen) read += chunk.length;
            if (headersSeen && read >= bytes) done();
        });
    });
}

function jsonHeaders(apiKey: string): Record<string, string> {
    return {
        authorization: `Bearer ${apiKey}`,
        "content-type": "application/json",
        accept: "text/event-stream"
    };
}

/** The text of a JAN SSE stream (`data: {"choices":[{"text"}]}` frames up to `data: [DONE]`), or null when it did not end with [DONE] or sent an error event. */
export function sseText(stream: string): string | null {
    let text = "";
    let done = false;
    for (const frame of stream.split(/\r?\n\r?\n/)) {
        if (/^event: error/m.test(frame)) return null;
        const data = frame
            .split(/\r?\n/)
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).trimStart())
            .join("\n");
        if (data === "") continue;
        if (data === "[DONE]") {
            done = true;
            continue;
        }
        const chunk = JSON.parse(data) as { choices?: Array<{ text?: string }> };
        text += chunk.choices?.[0]?.text ?? "";
    }
    return done ? text : null;
}
