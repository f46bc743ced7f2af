import { NodeLlamaEngine } from "@quandex/engine";
import { requireTestModel } from "@quandex/test-support";
import { engineContract } from "./contract/engineContract.js";
import { createHarness } from "./support/harness.js";

engineContract(
    "node-llama-cpp on stories260K",
    async () =>
        createHarness({ engine: await NodeLlamaEngine.create({ gpu: "auto" }), files: { "stories260K.gguf": requireTestModel() }, maxQueue: 3, defaults: { contextSize: 4096 } }),
    "stories260K"
);
