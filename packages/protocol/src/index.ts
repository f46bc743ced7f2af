export * from "./errorCatalogue.js";
export * from "./QuandexError.js";
export * from "./schemas/ErrorBodySchema.js";
export * from "./schemas/GenerateRequestSchema.js";
export * from "./schemas/GenerateResponseSchema.js";
export * from "./schemas/ModelSchema.js";
export * from "./schemas/StatsSchema.js";
export * from "./formatBytes.js";
