import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { runSoak, type SoakScenario } from "./runSoak.js";
import { soakSizes } from "./soakSizes.js";

/**
 * `npm run soak` (the full run: both engines where a llama-server binary is built, issue #19's
 * sizes) or `npm run soak -- --ci` (the sizes `bench/test/soak.test.ts` runs). Prints one figure
 * line per scenario and engine, exits 1 when any fails; `--json <file>` also writes the figures.
 */
const { values } = parseArgs({
    options: {
        ci: { type: "boolean", default: false },
        scenario: { type: "string", multiple: true },
        engine: { type: "string", multiple: true },
        seed: { type: "string", default: "19" },
        json: { type: "string" }
    }
});
const all: SoakScenario[] = ["fuzz", "disconnects", "slow-readers", "overload", "crash"];
const scenarios = (values.scenario ?? all) as SoakScenario[];
for (const s of scenarios) if (!all.includes(s)) throw new Error(`unknown scenario ${s}; one of ${all.join(", ")}`);
const engines = (values.engine ?? ["node-llama-cpp", "llama-server"]) as ("node-llama-cpp" | "llama-server")[];
const sizes = values.ci ? soakSizes.ci : soakSizes.full;
const started = Date.now();
const command = `npm run soak --${process.argv.slice(2).length > 0 ? ` ${process.argv.slice(2).join(" ")}` : ""}`;
console.log(`soak (${sizes.name} sizes, seed ${values.seed}): ${command}`);
const figures = await runSoak({
    sizes,
    scenarios,
    engines,
    seed: Number(values.seed),
    onFigure: (figure) => console.log(figure.line),
    onNote: (line) => console.log(line)
});
for (const figure of figures) for (const failure of figure.failures) console.log(`  ${figure.scenario} [${figure.engine}] failed: ${failure}`);
console.log(`soak done in ${((Date.now() - started) / 1000).toFixed(0)} s: ${figures.filter((f) => f.passed).length}/${figures.length} passed`);
if (values.json)
    await writeFile(
        values.json,
        JSON.stringify(
            {
                command,
                sizes,
                seed: Number(values.seed),
                at: new Date().toISOString(),
                figures
            },
            null,
            2
        )
    );
process.exitCode = figures.every((f) => f.passed) ? 0 : 1;
