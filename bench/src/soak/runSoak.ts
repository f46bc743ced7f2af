import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { goldenText, llamaServerForTests, requireTestModel } from "@quandex/test-support";
import { crashRestartScenario } from "./crashRestartScenario.js";
import { disconnectScenario } from "./disconnectScenario.js";
import { fuzzScenario } from "./fuzzScenario.js";
import { generateOnce, greedyRequest } from "./generateOnce.js";
import { overloadScenario } from "./overloadScenario.js";
import { slowReaderScenario, slowReaderServerSettings } from "./slowReaderScenario.js";
import type { SoakFigure } from "./SoakFigure.js";
import { SoakServer, type SoakEngine } from "./SoakServer.js";
import type { SoakSizes } from "./soakSizes.js";

export type SoakScenario = "fuzz" | "disconnects" | "slow-readers" | "overload" | "crash";

export type RunSoakOptions = {
    sizes: SoakSizes;
    scenarios: readonly SoakScenario[];
    /** Engines to run each scenario on; llama-server only where a binary is built. */
    engines: readonly ("node-llama-cpp" | "llama-server")[];
    seed: number;
    /** Stores the crash scenario runs on; both when omitted (Redis needs `redis-server`). */
    stores?: readonly ("sqlite" | "redis")[];
    /** Called with each figure as soon as it is measured. */
    onFigure?: (figure: SoakFigure) => void;
    /** Called with lines that are not figures (where a failed scenario's log was kept). */
    onNote?: (line: string) => void;
};

/**
 * Runs the soak scenarios against real `quandex serve` processes on the shared test model, each
 * scenario on a fresh server (so one's leftovers cannot pass or fail another), and returns one
 * figure per scenario and engine.
 */
export async function runSoak(options: RunSoakOptions): Promise<SoakFigure[]> {
    const figures: SoakFigure[] = [];
    const emit = (figure: SoakFigure): void => {
        figures.push(figure);
        options.onFigure?.(figure);
    };
    const modelPath = requireTestModel();
    for (const engineName of options.engines) {
        let engine: SoakEngine;
        if (engineName === "llama-server") {
            const found = llamaServerForTests();
            if (found.binaryPath === undefined) continue;
            engine = { type: "llama-server", path: found.binaryPath };
        } else {
            engine = { type: "node-llama-cpp" };
        }
        for (const scenario of options.scenarios) {
            const before = figures.length;
            const workDir = await mkdtemp(join(tmpdir(), `quandex-soak-${scenario}-`));
            const base = { workDir, modelPath, modelId: "stories260K", engine };
            try {
                if (scenario === "crash") {
                    for (const store of options.stores ?? ["sqlite", "redis"])
                        emit(
                            await crashRestartScenario({
                                ...base,
                                workDir: join(workDir, store),
                                store,
                                engineName,
                                sizes: options.sizes,
                                seed: options.seed
                            })
                        );
                    continue;
                }
                const shape =
                    scenario === "overload"
                        ? {
                              parallel: 2,
                              maxQueue: options.sizes.overloadQueue,
                              contextSize: 512,
                              // The burst stands for many clients; from one address the per-address cap on connections
                              // not yet authenticated (default 64) would answer 429 before the queue is reached.
                              server: { request_limits: { connections_per_ip: 10_000 } }
                          }
                        : scenario === "slow-readers"
                          ? {
                                parallel: options.sizes.slowReaders + 2,
                                maxQueue: 64,
                                contextSize: 2048,
                                server: slowReaderServerSettings
                            }
                          : { parallel: 4, maxQueue: 64, contextSize: 512 };
                const server = await SoakServer.create({ ...base, ...shape });
                const admin = await server.createKey("soak-admin", "generate,read,admin", ["--unlimited"]);
                await server.start(admin.key);
                try {
                    const reference = await generateOnce(server.baseUrl, admin.key, {
                        model: base.modelId,
                        ...greedyRequest
                    });
                    if (!reference.ok) throw new Error(`the reference request answered ${reference.status} ${reference.code}`);
                    if (!goldenText.startsWith(reference.text)) throw new Error(`the greedy output ${JSON.stringify(reference.text)} is not the model's golden text`);
                    const common = {
                        server,
                        engine: engineName,
                        checkKey: admin.key,
                        expectedText: reference.text,
                        seed: options.seed
                    };
                    if (scenario === "fuzz") {
                        const fuzzKey = await server.createKey("soak-fuzz", "generate,read,admin", ["--unlimited"]);
                        const limited = await server.createKey("soak-limited", "generate,read");
                        emit(
                            await fuzzScenario({
                                ...common,
                                requests: options.sizes.fuzzRequests,
                                fuzzKey,
                                limitedKey: limited.key
                            })
                        );
                    } else if (scenario === "disconnects") {
                        emit(
                            await disconnectScenario({
                                ...common,
                                streams: options.sizes.disconnectStreams
                            })
                        );
                    } else if (scenario === "overload") {
                        emit(
                            await overloadScenario({
                                ...common,
                                assertLatency: options.sizes.name === "full"
                            })
                        );
                    } else {
                        emit(
                            await slowReaderScenario({
                                ...common,
                                slowReaders: options.sizes.slowReaders,
                                seconds: options.sizes.slowReaderSeconds,
                                tokens: options.sizes.slowReaderTokens,
                                assertSpeed: options.sizes.name === "full"
                            })
                        );
                    }
                } finally {
                    await server.stop();
                }
            } finally {
                // A failed scenario keeps its server's log for the report; a passed one leaves nothing behind.
                if (figures.slice(before).every((figure) => figure.passed)) await rm(workDir, { recursive: true, force: true });
                else options.onNote?.(`  ${scenario} [${engineName}]: server log kept in ${workDir}`);
            }
        }
    }
    return figures;
}
