import { GgufInsights, readGgufFileInfo, type Llama } from "node-llama-cpp";
import type { ModelLoadOptions } from "../Engine.js";

/**
 * What loading a model with these options will take, in bytes (weights plus the context's KV cache
 * and compute buffers, RAM and accelerator together), from node-llama-cpp's `GgufInsights`
 * estimates on the file's header, before anything is loaded. Both engines use it for the memory
 * budget: llama-server runs the same llama.cpp, with `-c contextSize × parallel`, as node-llama-cpp
 * does for `parallel` sequences of `contextSize`.
 *
 * @param offload whether the engine offloads to a GPU here (layers as `options.gpu` asks), so the
 *   estimate splits the same way the load will.
 */
export async function estimateLoadBytes(filePath: string, options: ModelLoadOptions, offload: boolean, llama?: Llama): Promise<number> {
    const info = await readGgufFileInfo(filePath, { sourceType: "filesystem", logWarnings: false });
    const insights = await GgufInsights.from(info, llama);
    const gpuLayers = !offload || options.gpu === false ? 0 : typeof options.gpu === "number" ? Math.min(options.gpu, insights.totalLayers) : insights.totalLayers;
    const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
    // Flash attention as both engines run it: on with GPU layers, off on the CPU (its compute buffers differ).
    const context = await insights.estimateContextResourceRequirementsV2({
        contextSize: options.contextSize,
        sequences: options.parallel,
        modelGpuLayers: gpuLayers,
        flashAttention: gpuLayers > 0
    });
    return Math.round(model.cpuRam + model.gpuVram + context.cpuRam + context.gpuVram);
}
