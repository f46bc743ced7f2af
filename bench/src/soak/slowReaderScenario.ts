import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { soakFigure, type SoakFigure } from "./SoakFigure.js";
import type { SoakServer } from "./SoakServer.js";
import { readStats } from "./readStats.js";

export type SlowReaderOptions = {
    server: SoakServer;
    engine: string;
    checkKey: string;
    slowReaders: number;
    /** How long the fast clients' tok/s is measured, alone and then beside the slow readers. */
    seconds: number;
    /** Tokens each slow stream asks for. */
    tokens: number;
    /** Whether the tok/s bound is a pass criterion (the full run) or only reported (CI, on shared cores). */
    assertSpeed: boolean;
};

/** The server settings this scenario runs under: a small buffer cap and a short idle timeout, so both act within the run. */
export const slowReaderServerSettings = {
    stream_buffer_limit: 65_536,
    idle_timeout: 3,
    keep_alive_interval: 1
};

/**
 * The measuring side of slow readers: clients that read a stream at 1 byte a second while two
 * fast clients generate. It reports the fast clients' tok/s alone and beside them, the server's
 * RSS at its peak, and how each slow stream ended once the run lets it go on reading (closed by
 * the server, with an in-band error frame, or still open). Pass: RSS grows by no more than the
 * buffer cap per slow reader plus 32 MB, every slow connection was reclaimed by the server, and
 * (full run) the fast clients keep 90% of their tok/s.
 */
export async function slowReaderScenario(options: SlowReaderOptions): Promise<SoakFigure> {
    const { server, checkKey } = options;
    const failures: string[] = [];
    const fastBody = {
        model: server.options.modelId,
        prompt: "Once upon a time",
        max_tokens: 128,
        ignore_eos: true,
        temperature: 0
    };

    const fastTokensPerSecond = async (): Promise<number> => {
        let tokens = 0;
        const until = performance.now() + options.seconds * 1000;
        const client = async (): Promise<void> => {
            while (performance.now() < until) {
                // A request still unanswered 1 s after the window is given up: its tokens did not arrive in time.
                const json = await fetch(`${server.baseUrl}/v1/generate`, {
                    method: "POST",
                    headers: { authorization: `Bearer ${checkKey}`, "content-type": "application/json" },
                    body: JSON.stringify(fastBody),
                    signal: AbortSignal.timeout(Math.ceil(Math.max(1, until - performance.now())) + 1000)
                })
                    .then((response) => response.json() as Promise<{ usage?: { completion_tokens?: number } }>)
                    .catch(() => null);
                if (json === null) break;
                tokens += json.usage?.completion_tokens ?? 0;
            }
        };
        const started = performance.now();
        await Promise.all([client(), client()]);
        return tokens / ((performance.now() - started) / 1000);
    };

    const alone = await fastTokensPerSecond();
    const rssStart = server.rssBytes();
    let rssPeak = rssStart ?? 0;
    let sampling = true;
    const sampler = (async () => {
        while (sampling) {
            rssPeak = Math.max(rssPeak, server.rssBytes() ?? 0);
            await sleep(200);
        }
    })();
    const slow = Array.from({ length: options.slowReaders }, () => slowReader(server.baseUrl, checkKey, server.options.modelId, options.tokens));
    await sleep(500);
    const beside = await fastTokensPerSecond();
    // The slow streams' generations run on at full speed while the kernel's socket buffers take
    // what their readers leave (a test-model stream fits in them); once every one has ended or been
    // cut (no sequence busy, no queue), the server has the idle timeout to reclaim every connection.
    const drainedBy = performance.now() + 180_000;
    for (;;) {
        const stats = await readStats(server.baseUrl, checkKey);
        if ((stats.activeSequences === 0 && stats.queueDepth === 0) || performance.now() > drainedBy) break;
        await sleep(250);
    }
    await sleep((slowReaderServerSettings.idle_timeout + 1) * 1000);
    sampling = false;
    await sampler;
    const endings = await Promise.all(slow.map((reader) => reader.finish()));

    const reclaimed = endings.filter((e) => e !== "open").length;
    const errorFrames = endings.filter((e) => e === "error frame").length;
    const ratio = alone > 0 ? beside / alone : null;
    const growthBound = options.slowReaders * slowReaderServerSettings.stream_buffer_limit + 32 * 1024 * 1024;
    if (rssStart === null) failures.push("the server's RSS could not be read");
    else if (rssPeak - rssStart > growthBound) failures.push(`RSS grew ${mb(rssPeak - rssStart)} MB beside ${options.slowReaders} slow readers (bound ${mb(growthBound)} MB)`);
    if (reclaimed < options.slowReaders)
        failures.push(`${options.slowReaders - reclaimed} slow connection(s) were still open ${slowReaderServerSettings.idle_timeout + 1} s after the fast clients stopped`);
    if (options.assertSpeed && (ratio === null || ratio < 0.9))
        failures.push(`the fast clients kept ${ratio === null ? "null" : (ratio * 100).toFixed(0)}% of their tok/s beside the slow readers (bound 90%)`);
    return soakFigure(
        "slow-readers",
        options.engine,
        {
            slow_readers: options.slowReaders,
            fast_tok_s_alone: alone,
            fast_tok_s_beside: beside,
            tok_s_ratio: ratio,
            rss_start_mb: rssStart === null ? null : mb(rssStart),
            rss_peak_mb: mb(rssPeak),
            reclaimed,
            ended_with_error_frame: errorFrames
        },
        failures
    );
}

/**
 * A client that asks for a long stream and reads it 1 byte a second. `finish()` then reads what
 * is left at full speed for a second and says how the stream ended.
 */
function slowReader(baseUrl: string, apiKey: string, model: string, tokens: number): { finish(): Promise<"closed" | "error frame" | "done" | "open"> } {
    const url = new URL(baseUrl);
    const body = JSON.stringify({
        model,
        prompt: "Once upon a time",
        max_tokens: tokens,
        ignore_eos: true,
        stream: true
    });
    const socket = net.connect({ host: url.hostname, port: Number(url.port) });
    let ended = false;
    let text = "";
    socket.on("error", () => (ended = true));
    socket.on("end", () => (ended = true));
    socket.write(
        `POST /v1/generate HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${apiKey}\r\ncontent-type: application/json\r\naccept: text/event-stream\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
    socket.pause();
    const ticker = setInterval(() => {
        const byte = socket.read(1) as Buffer | null;
        if (byte !== null) text += byte.toString("latin1");
    }, 1000);
    return {
        async finish() {
            clearInterval(ticker);
            socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
            socket.resume();
            await sleep(1000);
            socket.destroy();
            if (/event: error/.test(text)) return "error frame";
            if (text.includes("data: [DONE]")) return ended ? "done" : "open";
            return ended ? "closed" : "open";
        }
    };
}

function mb(bytes: number): number {
    return Math.round((bytes / 1024 / 1024) * 10) / 10;
}
