// What more than one package's tests (and the benchmark) share. Fixtures one package alone uses
// stay in that package's test/support/.
export * from "./testModel.js";
export * from "./llamaServerForTests.js";
export * from "./allowedSkip.js";
export * from "./writeBrokenModels.js";
export * from "./writeModelWithChatTemplate.js";
export * from "./HuggingFaceFixture.js";
export * from "./SeededRandom.js";
export * from "./makeSyntheticModel.js";
export * from "./gguf/ggufFormat.js";
export * from "./gguf/float16.js";
export * from "./gguf/readGgufHeader.js";
export * from "./gguf/writeGgufFile.js";
