/**
 * Test doubles for code built on the engine, kept out of the product's index: import them from
 * `@quandex/engine/testing`.
 */
export * from "./FakeEngine.js";
export * from "./ManualClock.js";
