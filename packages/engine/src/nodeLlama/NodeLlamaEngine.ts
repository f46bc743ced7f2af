import os from "node:os";
import { getLlama, getModuleVersion, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { QuandexError, type Backend } from "@quandex/protocol";
import type { DeviceInfo, Engine, EngineInfo, LoadRequest, ModelRunner } from "../Engine.js";
import { silentLogger, type Logger } from "../Logger.js";
import { maxAutoThreads } from "../system/threadPolicy.js";
import { estimateLoadBytes } from "../system/estimateLoadBytes.js";
import { readMemory } from "../system/readMemory.js";
import { checkGgufFile } from "./checkGgufFile.js";
import { NodeLlamaRunner } from "./NodeLlamaRunner.js";
import { GrammarCache, type GrammarCacheOptions } from "./GrammarCache.js";
import { disposeAll } from "../disposeAll.js";

export interface NodeLlamaEngineOptions {
    /** `"auto"` uses a GPU when one works (falling back to CPU, logged); `false` never probes one. Defaults to `"auto"`. */
    gpu?: "auto" | false;
    /**
     * `"auto"` runs node-llama-cpp's local build when one exists (it prefers it), `"prebuilt"` the
     * prebuilt binaries even then, to compare the two. Defaults to `"auto"`.
     */
    build?: "auto" | "prebuilt";
    logger?: Logger;
    /** JSON schemas for `response_format`: the limits past which they are refused, and the compile budget. */
    grammars?: Pick<GrammarCacheOptions, "limits" | "compileTimeoutMs">;
}

/**
 * node-llama-cpp looks for a local build in a folder named after the build options, custom CMake
 * options included, and falls back to its prebuilt binaries (named without them) when that folder
 * is missing. An option no build uses therefore names a local build that never exists: the
 * prebuilt binaries load even beside a local build. Nothing is compiled: `build` stays `"never"`.
 */
const preferPrebuilt = { QUANDEX_PREBUILT_BINARIES: "1" };

/**
 * The in-process engine: one `Llama` per process, one context per loaded model. It never builds or
 * downloads binaries at run time (`build: "never"`); node-llama-cpp's own local build (made by
 * `npx --no node-llama-cpp source download --gpu false`, with OpenMP) is picked up when present,
 * and `info().build` says which one runs.
 */
export class NodeLlamaEngine implements Engine {
    private disposed = false;
    private readonly runners = new Set<NodeLlamaRunner>();

    private constructor(
        private readonly llama: Llama,
        private readonly logger: Logger,
        private readonly version: string,
        private readonly grammars: GrammarCache
    ) {}

    static async create(options: NodeLlamaEngineOptions = {}): Promise<NodeLlamaEngine> {
        const logger = options.logger ?? silentLogger;
        const gpu = options.gpu ?? "auto";
        const llama = await getLlama({
            build: "never",
            gpu,
            ...(options.build === "prebuilt" && { cmakeOptions: preferPrebuilt }),
            // 0 makes each context's `threads` exact instead of a share of a global pool.
            maxThreads: 0,
            progressLogs: false,
            logLevel: LlamaLogLevel.warn,
            logger: (level, message) => {
                const text = message.trimEnd();
                if (text === "") return;
                if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) logger.error({ engine: "llama.cpp" }, text);
                else logger.debug({ engine: "llama.cpp" }, text);
            }
        });
        const backend = toBackend(llama.gpu);
        if (gpu === "auto" && backend === "cpu") logger.info("no usable GPU backend found; llama.cpp runs on the CPU");
        else logger.info({ backend }, "llama.cpp accelerator backend selected");
        const version = await getModuleVersion();
        return new NodeLlamaEngine(llama, logger, version, new GrammarCache(llama, options.grammars));
    }

    info(): EngineInfo {
        const build = this.llama.buildType === "localBuild" ? "local" : "prebuilt";
        return {
            name: "node-llama-cpp",
            version: this.version,
            build,
            llamaCppRelease: this.llama.llamaCppRelease.release ?? null,
            backend: toBackend(this.llama.gpu),
            defaultThreads: maxAutoThreads("in-process")
        };
    }

    async load(request: LoadRequest): Promise<ModelRunner> {
        if (this.disposed) throw new QuandexError("server_shutdown");
        await checkGgufFile(request.path);
        const runner = await NodeLlamaRunner.load(this.llama, request, this.logger, this.grammars);
        this.runners.add(runner);
        runner.onDispose(() => this.runners.delete(runner));
        return runner;
    }

    async estimate(request: Omit<LoadRequest, "signal">): Promise<number> {
        return estimateLoadBytes(request.path, request.options, this.llama.gpu !== false, this.llama);
    }

    async device(): Promise<DeviceInfo> {
        const backend = toBackend(this.llama.gpu);
        if (backend !== "cpu") {
            const [names, vram] = await Promise.all([this.llama.getGpuDeviceNames(), this.llama.getVramState()]);
            return { name: names.join(", ") || backend, backend, memoryAllocatedBytes: vram.used, memoryAvailableBytes: vram.free };
        }
        const memory = await readMemory();
        return {
            name: os.cpus()[0]?.model.trim() ?? "CPU",
            backend,
            memoryAllocatedBytes: memory.totalBytes - memory.availableBytes,
            memoryAvailableBytes: memory.availableBytes
        };
    }

    /** Unloads every model, then the `Llama`; each part is freed even when another fails, and every failure is reported. */
    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        await disposeAll("the node-llama-cpp engine", [
            ...[...this.runners].map((runner) => () => runner.dispose()),
            () => GrammarCache.stopCompilers(),
            () => this.llama.dispose()
        ]);
    }
}

function toBackend(gpu: Llama["gpu"]): Backend {
    return gpu === false ? "cpu" : gpu;
}
