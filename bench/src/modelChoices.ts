import { makeSyntheticModel, syntheticModelPresets, testModelPath } from "@quandex/test-support";
import { defaultWarmupRequests, type LoadPlan } from "./runLoad.js";

export type ModelChoice = {
    key: string;
    id: string;
    description: string;
    /** The load plan of a full run; `--smoke` and the flags override parts of it. */
    plan: Omit<LoadPlan, "concurrencyLevels" | "requestRate">;
    /** The model file, written first when it is synthetic. */
    path: () => Promise<string>;
};

/** The models `--models` can name. The 85M run uses fewer tokens so the whole bench stays within minutes. */
export const modelChoices: Record<string, ModelChoice> = {
    tiny: {
        key: "tiny",
        id: "stories260K",
        description: "stories260K, the trained test model, ~260K parameters, F32: measures overhead",
        plan: { maxTokens: 128, requestsPerSlot: 4, minRequests: 32, warmupRequests: defaultWarmupRequests },
        path: async () => testModelPath
    },
    "85m": {
        key: "85m",
        id: "synthetic-85m",
        description: "synthetic llama, 85.7M parameters, F16, random weights: measures realistic compute",
        // 16 requests per round even at one stream: TTFT p50 is read per round, and 8 samples left it to chance.
        plan: { maxTokens: 32, requestsPerSlot: 2, minRequests: 16, warmupRequests: defaultWarmupRequests },
        path: async () => (await makeSyntheticModel(syntheticModelPresets["85m"])).path
    },
    "synthetic-tiny": {
        key: "synthetic-tiny",
        id: "synthetic-tiny",
        description: "synthetic llama, 0.15M parameters, F16, random weights: exercises the generator",
        plan: { maxTokens: 128, requestsPerSlot: 4, minRequests: 8, warmupRequests: defaultWarmupRequests },
        path: async () => (await makeSyntheticModel(syntheticModelPresets.tiny)).path
    }
};
