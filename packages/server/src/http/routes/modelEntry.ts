import { statSync } from "node:fs";
import type { ModelSnapshot } from "@quandex/engine";
import { formatBytes, type ModelEntry } from "@quandex/protocol";

/** `owned_by` of every model: they are the server's own files. */
export const modelOwner = "quandex";

/** The JAN model entry: honest figures from the engine, zeros when nothing is loaded. */
export function modelEntry(snapshot: ModelSnapshot): ModelEntry {
    const { definition, runner } = snapshot;
    const resources = snapshot.status === "ready" && runner ? runner.resources() : undefined;
    return {
        id: definition.id,
        object: "model",
        created: fileMtimeSeconds(definition.path),
        owned_by: modelOwner,
        status: snapshot.status,
        metal_optimized: resources !== undefined && resources.backend !== "cpu" && resources.gpuLayers > 0,
        memory_usage: formatBytes(resources?.totalBytes ?? 0),
        memory_bytes: resources?.totalBytes ?? 0,
        aliases: [...definition.aliases],
        context_size: runner?.contextSize ?? definition.options.contextSize,
        parallel: runner?.parallel ?? definition.options.parallel,
        backend: resources?.backend ?? null,
        gpu_layers: resources?.gpuLayers ?? 0,
        size_bytes: fileSize(definition.path),
        error: snapshot.status === "error" ? snapshot.error : null
    };
}

export function fileMtimeSeconds(filePath: string): number {
    try {
        return Math.floor(statSync(filePath).mtimeMs / 1000);
    } catch {
        return 0;
    }
}

function fileSize(filePath: string): number {
    try {
        return statSync(filePath).size;
    } catch {
        return 0;
    }
}
