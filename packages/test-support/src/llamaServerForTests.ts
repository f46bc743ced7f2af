import os from "node:os";
import path from "node:path";
import { findBuiltLlamaServer } from "@quandex/engine";
import { allowedSkip } from "./allowedSkip.js";

/**
 * The llama-server the llama-server engine's tests run against: `QUANDEX_LLAMA_SERVER`, else the one
 * `quandex engine build` (scripts/build-engine.sh) installed under `QUANDEX_HOME` or ~/.quandex.
 * When there is none, `skipReason` says so and how to get one; the tests skip with that reason,
 * unless `QUANDEX_REQUIRE_LLAMA_SERVER=1` or CI (`allowedSkip`), where it throws.
 */
export function llamaServerForTests(): { binaryPath: string; skipReason?: undefined } | { binaryPath?: undefined; skipReason: string } {
    const explicit = process.env.QUANDEX_LLAMA_SERVER;
    if (explicit) return { binaryPath: explicit };
    const home = process.env.QUANDEX_HOME || path.join(os.homedir(), ".quandex");
    const built = findBuiltLlamaServer(home);
    if (built) return { binaryPath: built.serverPath };
    const skipReason = `no llama-server binary is built under ${home}/engines (run scripts/build-engine.sh, ~15 min on 2 cores, or set QUANDEX_LLAMA_SERVER)`;
    // CI builds the binary first (.ci/run), so there a missing one is a failure, not a skip.
    if (process.env.QUANDEX_REQUIRE_LLAMA_SERVER === "1") throw new Error(skipReason);
    return { skipReason: allowedSkip(`llama-server engine tests: ${skipReason}`) };
}
