import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describeBaselineSettings, describeLevel, formatMb } from "../format.js";
import { alternateRounds } from "../metrics.js";
import { BaselineWorker } from "../process/BaselineWorker.js";
import { readRssBytes } from "../process/childServer.js";
import { startQuandexServer, type QuandexServer } from "../process/quandexServer.js";
import { ServeBench } from "../serveBench.js";
import type { BenchContext } from "./BenchContext.js";
import { levelProblems } from "./levelProblems.js";
import type { ModelBench } from "./ModelBench.js";

/**
 * `quandex serve` on its in-process engine (node-llama-cpp) as a child process, over streaming
 * HTTP, against the in-process baseline (a worker process with the same settings), at each
 * concurrency level: single stream, then each higher level. Server and baseline levels alternate,
 * round after round, never both at once, so the slow drift of a shared 2-core machine hits both
 * alike. Records the server's idle RSS before the levels and after.
 *
 * `whileServerUp` runs after the levels with the server still up and idle (the control plane
 * measures it then); what it throws fails this model's in-process part like a failed level.
 * Skipped when `--engines` leaves out node-llama-cpp.
 */
export async function benchInProcess(context: BenchContext, model: ModelBench, whileServerUp: (server: QuandexServer) => Promise<void>): Promise<void> {
    const { options, problems, log } = context;
    const { choice, path, plan, run } = model;
    if (!options.engines.includes("node-llama-cpp")) return;
    const workDir = await mkdtemp(join(tmpdir(), `quandex-bench-${choice.key}-`));
    let server: QuandexServer | null = null;
    let serve: ServeBench | null = null;
    let worker: BaselineWorker | null = null;
    let succeeded = false;
    try {
        server = await startQuandexServer({ models: [{ id: choice.id, path, parallel: run.parallel, contextSize: run.contextSize, threads: run.threads }], workDir });
        log(`server up: ${server.command}`);
        await sleep(1000);
        const idleRssBytes = readRssBytes(server.pid);
        log(`server idle RSS with ${choice.id} loaded: ${formatMb(idleRssBytes)}`);
        run.server = {
            levels: [],
            idleRssBytes,
            idleRssAfterBytes: null,
            unlimitedKey: server.unlimitedKey,
            command: server.command,
            configYaml: server.configYaml
        };
        serve = await ServeBench.open({ baseUrl: server.baseUrl, apiKey: server.apiKey, model: choice.id, plan, pids: [server.pid] });
        if (!options.skipBaseline) {
            worker = await BaselineWorker.start({ modelPath: path, threads: run.threads, contextSize: run.contextSize, sequences: run.parallel, plan });
            run.baseline = { settings: worker.settings, levels: [] };
            log(describeBaselineSettings(worker.settings));
        }
        for (const concurrency of plan.concurrencyLevels) {
            const serverBench = serve;
            const baselineWorker = worker;
            const { a: level, b: baselineLevel } = await alternateRounds(
                plan.rounds ?? 1,
                () => serverBench.runLevel(concurrency),
                baselineWorker ? () => baselineWorker.runLevel(concurrency) : null,
                (side, round, index) => log(describeLevel(`${side === "a" ? "server" : "baseline"} round ${index}`, round))
            );
            log(describeLevel("server", level));
            run.server.levels.push(level);
            if (baselineLevel != null) {
                log(describeLevel("baseline", baselineLevel));
                run.baseline!.levels.push(baselineLevel);
            }
        }
        await worker?.close();
        worker = null;
        await whileServerUp(server);
        await sleep(1000);
        run.server.idleRssAfterBytes = readRssBytes(server.pid);
        succeeded = true;
    } catch (error) {
        problems.push(`bench of ${choice.id} failed: ${error instanceof Error ? error.message : String(error)} (files kept in ${workDir})`);
        log(problems[problems.length - 1]!);
    } finally {
        serve?.close();
        await worker?.close();
        await server?.stop();
    }
    if (succeeded) await rm(workDir, { recursive: true, force: true });
    if (run.server != null) problems.push(...levelProblems(`server ${choice.id}`, run.server.levels, plan));
    if (run.baseline != null) problems.push(...levelProblems(`baseline ${choice.id}`, run.baseline.levels, plan));
}
