import { FakeEngine } from "@quandex/engine/testing";
import { requireTestModel } from "@quandex/test-support";
import { engineContract } from "./contract/engineContract.js";
import { createHarness } from "./support/harness.js";

// The fake never reads the file; any regular file gives the registry a model named "fake".
engineContract(
    "fake engine",
    () => createHarness({ engine: new FakeEngine({ tokenDelayMs: 1 }), files: { "fake.gguf": requireTestModel() }, maxQueue: 3, defaults: { contextSize: 4096 } }),
    "fake"
);
