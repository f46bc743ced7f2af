import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { QuandexError, type Backend } from "@quandex/protocol";
import type { DeviceInfo, Engine, EngineInfo, LoadRequest, ModelLoadOptions, ModelRunner } from "../Engine.js";
import { silentLogger, type Logger } from "../Logger.js";
import { checkGgufFile } from "../nodeLlama/checkGgufFile.js";
import { childProcessThreads, maxAutoThreads } from "../system/threadPolicy.js";
import { estimateLoadBytes } from "../system/estimateLoadBytes.js";
import { readMemory } from "../system/readMemory.js";
import { inspectLlamaServer, listLlamaServerDevices, type LlamaServerBinaryInfo, type LlamaServerDevice } from "./inspectLlamaServer.js";
import { readLlamaServerInstall } from "./LlamaServerBuild.js";
import { LlamaServerProcess } from "./LlamaServerProcess.js";
import { LlamaServerRunner } from "./LlamaServerRunner.js";
import { disposeAll } from "../disposeAll.js";

export interface LlamaServerEngineOptions {
    /** The llama-server binary (`quandex engine build` installs one; see {@link findBuiltLlamaServer}). */
    binaryPath: string;
    /** `"auto"` offloads to a GPU the binary can use; `false` never does. Defaults to `"auto"`. */
    gpu?: "auto" | false;
    logger?: Logger;
    /** How long a model may take to load. Defaults to `600_000`. */
    loadTimeoutMs?: number;
    /** How long a loaded child may leave its health probe unanswered before it is killed and replaced (`engine.watchdog_timeout`). Defaults to `15_000`. */
    watchdogTimeoutMs?: number;
}

/**
 * The out-of-process engine: each loaded model is its own llama-server child, supervised here.
 * A model that crashes (segfault, OOM kill, `kill -9`) takes only itself down: its requests end
 * with 503 `model_unavailable`, its runner reports the exit, and the scheduler marks it `error`.
 * A child that hangs instead (SIGSTOP, a deadlock) is found by the health watchdog in
 * `LlamaServerProcess` and killed, and then takes the same path.
 */
export class LlamaServerEngine implements Engine {
    private disposed = false;
    private readonly runners = new Set<LlamaServerRunner>();
    private devices: { at: number; list: LlamaServerDevice[] } | undefined;

    private constructor(
        private readonly binary: LlamaServerBinaryInfo,
        private readonly gpu: "auto" | false,
        private readonly logger: Logger,
        private readonly loadTimeoutMs: number,
        private readonly release: string | null,
        private readonly watchdogTimeoutMs: number
    ) {}

    /**
     * Checks the binary (version, flags, devices) and returns the engine.
     *
     * @throws LlamaServerBinaryError for a binary it cannot drive, with what to do about it.
     */
    static async create(options: LlamaServerEngineOptions): Promise<LlamaServerEngine> {
        const logger = options.logger ?? silentLogger;
        const binary = await inspectLlamaServer(options.binaryPath);
        // A binary `quandex engine build` made knows its release; for another one, its version says most.
        const install = readLlamaServerInstall(path.dirname(path.dirname(path.resolve(options.binaryPath))));
        const release = install?.stamp.release ?? binary.version;
        const engine = new LlamaServerEngine(binary, options.gpu ?? "auto", logger, options.loadTimeoutMs ?? 600_000, release, options.watchdogTimeoutMs ?? 15_000);
        logger.info({ engine: "llama-server", path: binary.path, version: binary.version, backend: engine.backend(), builtWith: binary.builtWith }, "llama-server engine ready");
        return engine;
    }

    info(): EngineInfo {
        return {
            name: "llama-server",
            version: this.binary.version,
            build: "local",
            llamaCppRelease: this.release,
            backend: this.backend(),
            // An OpenMP build scales with threads; see system/threadPolicy.ts.
            defaultThreads: maxAutoThreads("child-process")
        };
    }

    async load(request: LoadRequest): Promise<ModelRunner> {
        if (this.disposed) throw new QuandexError("server_shutdown");
        const backend = this.backend();
        if (request.options.gpu === true && backend === "cpu") {
            throw new QuandexError("model_unavailable", { model: request.id, detail: "its config says gpu: true, but this llama-server has no usable GPU" });
        }
        const { chatTemplate } = await checkGgufFile(request.path);
        const modelBytes = fileBytes(request.path);
        // Resolved once, so the child's arguments and the "model loaded" log say the same count.
        const threads = request.options.threads === "auto" ? childProcessThreads(modelBytes) : request.options.threads;
        request = { ...request, options: { ...request.options, threads } };
        // Where the child saves slots' prompts for other slots to restore (SharedPrefixes); in RAM when /dev/shm is there.
        const slotSaveDir = mkdtempSync(path.join(existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir(), "quandex-slots-"));
        let server: LlamaServerProcess;
        try {
            server = await LlamaServerProcess.start({
                binaryPath: this.binary.path,
                args: [...this.argsFor(request.path, request.options, threads, backend), "--slot-save-path", slotSaveDir],
                modelId: request.id,
                logger: this.logger,
                signal: request.signal,
                readyTimeoutMs: this.loadTimeoutMs,
                watchdogTimeoutMs: this.watchdogTimeoutMs
            });
        } catch (error) {
            rmSync(slotSaveDir, { recursive: true, force: true });
            if (request.signal?.aborted) throw error;
            throw new QuandexError("model_unavailable", { model: request.id, detail: error instanceof Error ? error.message : String(error) }, { cause: error });
        }
        const startEmbeddingServer = (): Promise<LlamaServerProcess> =>
            LlamaServerProcess.start({
                binaryPath: this.binary.path,
                args: [...this.argsFor(request.path, { ...request.options, parallel: 1 }, threads, backend), "--embeddings", "--pooling", "mean"],
                modelId: `${request.id} (embeddings)`,
                logger: this.logger,
                readyTimeoutMs: this.loadTimeoutMs,
                watchdogTimeoutMs: this.watchdogTimeoutMs
            });
        const runner = await LlamaServerRunner.create(
            server,
            request,
            { backend, modelBytes, hasChatTemplate: chatTemplate !== null, startEmbeddingServer, slotSaveDir },
            this.logger
        ).catch((error: unknown) => {
            rmSync(slotSaveDir, { recursive: true, force: true });
            throw error;
        });
        this.runners.add(runner);
        server.onExit(() => this.runners.delete(runner));
        return runner;
    }

    async estimate(request: Omit<LoadRequest, "signal">): Promise<number> {
        return estimateLoadBytes(request.path, request.options, this.backend() !== "cpu");
    }

    async device(): Promise<DeviceInfo> {
        if (this.backend() !== "cpu") {
            // Free memory changes as models load; asking the binary takes a process start, so it is cached briefly.
            if (!this.devices || Date.now() - this.devices.at > 5_000) {
                this.devices = { at: Date.now(), list: await listLlamaServerDevices(this.binary.path) };
            }
            const gpu = this.devices.list[0] ?? this.binary.devices[0];
            if (gpu) return { name: gpu.description || gpu.name, backend: gpu.backend, memoryAllocatedBytes: gpu.totalBytes - gpu.freeBytes, memoryAvailableBytes: gpu.freeBytes };
        }
        const memory = await readMemory();
        return {
            name: os.cpus()[0]?.model.trim() ?? "CPU",
            backend: "cpu",
            memoryAllocatedBytes: memory.totalBytes - memory.availableBytes,
            memoryAvailableBytes: memory.availableBytes
        };
    }

    /** Stops every child; each is stopped even when another fails, and every failure is reported. */
    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        await disposeAll(
            "the llama-server engine",
            [...this.runners].map((runner) => () => runner.dispose())
        );
    }

    private backend(): Backend {
        if (this.gpu === false) return "cpu";
        return this.binary.devices[0]?.backend ?? "cpu";
    }

    /**
     * llama-server's `-c` is the total context, split evenly across the `-np` slots, so each slot
     * gets `contextSize` tokens when `-c` is `contextSize * parallel` and the KV cache is not unified.
     */
    private argsFor(modelPath: string, options: ModelLoadOptions, threads: number, backend: Backend): string[] {
        const { supports } = this.binary;
        const args = [
            "--model",
            modelPath,
            "--ctx-size",
            String(options.contextSize * options.parallel),
            "--parallel",
            String(options.parallel),
            "--threads",
            String(threads),
            "--threads-batch",
            String(threads)
        ];
        if (supports.noKvUnified) args.push("--no-kv-unified");
        const layers = this.gpuLayersArg(options, backend);
        if (layers !== null) args.push("--n-gpu-layers", layers);
        // Flash attention where an accelerator runs it; on the CPU the plain path matches the in-process engine.
        const onCpu = backend === "cpu" || options.gpu === false || options.gpu === 0;
        if (supports.flashAttn) args.push("--flash-attn", onCpu ? "off" : "auto");
        // The RAM prompt cache holds up to 8 GiB per server by default; memory use should follow the config.
        if (supports.cacheRam) args.push("--cache-ram", "0");
        if (supports.noWebui) args.push(supports.noWebui);
        // The model's own Jinja chat template renders chats (`/apply-template`) and tools (default on in newer builds).
        if (supports.jinja) args.push("--jinja");
        return args;
    }

    /** `--n-gpu-layers`, or null for a binary without a usable GPU (which warns about the flag). */
    private gpuLayersArg(options: ModelLoadOptions, backend: Backend): string | null {
        if (this.binary.devices.length === 0) return null;
        if (backend === "cpu" || options.gpu === false) return "0";
        if (options.gpu === true) return "999";
        if (typeof options.gpu === "number") return String(options.gpu);
        return this.binary.supports.gpuLayersAuto ? "auto" : "999";
    }
}

/** The model file's size, for the thread policy and the runner's memory floor; 0 (treated as small) when it cannot be read. */
function fileBytes(file: string): number {
    try {
        return statSync(file).size;
    } catch {
        return 0;
    }
}
