import { InvalidArgumentError, type Command } from "commander";
import type { StatsResponse } from "@quandex/client";
import { formatBytes, formatDuration } from "@quandex/protocol";
import { clientFrom, printJson, printTable, runClientAction, withClientOptions, type ClientFlags } from "./clientCommand.js";

interface StatsFlags extends ClientFlags {
    /** `true` when --watch is given without seconds. */
    watch?: number | true;
}

const defaultWatchSeconds = 2;

/** `quandex stats`: device, engine, server and per-model figures; `--watch` refreshes them. */
export function register(program: Command): void {
    withClientOptions(
        program
            .command("stats")
            .description("Show a running server's statistics")
            .option("-w, --watch [seconds]", `refresh every few seconds (default ${defaultWatchSeconds}) until Ctrl-C`, parseSeconds)
    ).action(async (flags: StatsFlags) =>
        runClientAction(
            () => clientFrom(flags),
            async (client) => {
                if (flags.watch === undefined) {
                    const stats = await client.getStats();
                    if (flags.json) printJson(stats);
                    else printSummary(stats);
                    return;
                }
                const intervalMs = (flags.watch === true ? defaultWatchSeconds : flags.watch) * 1000;
                const stop = new AbortController();
                const onSigint = (): void => stop.abort();
                process.once("SIGINT", onSigint);
                try {
                    while (!stop.signal.aborted) {
                        const stats = await client.getStats({ signal: stop.signal }).catch((error: unknown) => {
                            if (stop.signal.aborted) return null; // Ctrl-C during a refresh is a normal end
                            throw error;
                        });
                        if (stats === null) break;
                        // --json --watch prints one JSON document per line, so scripts can follow it.
                        if (flags.json) process.stdout.write(`${JSON.stringify(stats)}\n`);
                        else {
                            if (process.stdout.isTTY) process.stdout.write("\x1b[2J\x1b[H");
                            process.stdout.write(`quandex stats, every ${intervalMs / 1000}s (Ctrl-C to stop)  ${new Date().toLocaleTimeString()}\n\n`);
                            printSummary(stats);
                            if (!process.stdout.isTTY) process.stdout.write("\n");
                        }
                        await sleep(intervalMs, stop.signal);
                    }
                } finally {
                    process.removeListener("SIGINT", onSigint);
                }
            }
        )
    );
}

function printSummary(stats: StatsResponse): void {
    const { metal_device: device, engine, server } = stats;
    const line = (label: string, text: string): boolean => process.stdout.write(`${label.padEnd(8)}${text}\n`);
    line(
        "Device",
        `${device.name} (${device.backend}), memory ${device.memory_allocated} allocated, ${device.memory_available} available, temperature ${device.temperature ?? "n/a"}`
    );
    line(
        "Engine",
        `${engine.name} ${engine.version} (${engine.build}${engine.llama_cpp_release ? `, llama.cpp ${engine.llama_cpp_release}` : ""}), threads: auto up to ${engine.threads}, or as configured`
    );
    line(
        "Server",
        `up ${formatDuration(server.uptime_seconds * 1000)}, ${server.active_sequences} active sequence${server.active_sequences === 1 ? "" : "s"}, queue ${server.queue_depth}/${server.max_queue}, RSS ${formatBytes(server.rss_bytes)}`
    );
    process.stdout.write("\n");
    const models = Object.entries(stats.models);
    if (models.length === 0) {
        process.stdout.write("No models.\n");
        return;
    }
    const ms = (value: number | null): string => (value === null ? "-" : `${Math.round(value)}ms`);
    printTable(
        ["MODEL", "REQ/S", "AVG LATENCY", "P95", "ERRORS", "TOKENS/S", "ACTIVE", "QUEUED", "REQUESTS"],
        models.map(([id, m]) => [
            id,
            String(m.requests_per_second),
            m.average_latency,
            ms(m.p95_latency_ms),
            m.error_rate,
            String(m.output_tokens_per_second),
            String(m.active_sequences),
            String(m.queue_depth),
            String(m.requests_total)
        ])
    );
}

function parseSeconds(value: string): number {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number of seconds");
    return n;
}

/** Resolves after `ms`, or at once when Ctrl-C fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        signal.addEventListener("abort", done, { once: true });
        function done(): void {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            resolve();
        }
    });
}
