import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { it } from "node:test";
import { fileURLToPath } from "node:url";
import { allowedSkip, requireTestModel } from "@quandex/test-support";

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../../scripts/prometheus-check.sh");
const skip = spawnSync("prometheus", ["--version"], { stdio: "ignore" }).error
    ? allowedSkip("prometheus is not installed (Debian package prometheus; scripts/setup.sh installs it)")
    : false;

it("a real Prometheus scrapes Quandex with a key and sees token rate and TTFT after load (scripts/prometheus-check.sh)", { skip, timeout: 120_000 }, async () => {
    const child = spawn("bash", [script], { env: { ...process.env, QUANDEX_TEST_MODEL: requireTestModel(), PROMETHEUS_CHECK_REQUESTS: "20" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, output);
    const rate = Number(/quandex_generation_tokens_total\[1m\]\)\) = ([0-9.e+-]+)/.exec(output)?.[1]);
    const ttft = Number(/quandex_time_to_first_token_seconds_bucket\[1m\]\)\)\) = ([0-9.e+-]+)/.exec(output)?.[1]);
    assert.ok(rate > 0, output);
    assert.ok(ttft > 0, output);
});
