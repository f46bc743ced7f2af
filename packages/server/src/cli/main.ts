#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/ConfigError.js";
import { register as registerKeys } from "./commands/keys.js";
import { register as registerServe } from "./commands/serve.js";
import { register as registerGenerate } from "./commands/generate.js";
import { register as registerModels } from "./commands/models.js";
import { register as registerStats } from "./commands/stats.js";
import { register as registerEngine } from "./commands/engine.js";
import { register as registerPull } from "./commands/pull.js";
import { register as registerPs } from "./commands/ps.js";
import { register as registerRm } from "./commands/rm.js";

const program = new Command("quandex").description("Quandex: a self-hosted LLM inference server on llama.cpp").version("0.1.0").showHelpAfterError().exitOverride();

registerServe(program);
registerKeys(program);
registerGenerate(program);
registerModels(program);
registerPull(program);
registerPs(program);
registerRm(program);
registerStats(program);
registerEngine(program);

try {
    await program.parseAsync(process.argv);
} catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode);
    const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`quandex: ${message}\n`);
    process.exit(1);
}
