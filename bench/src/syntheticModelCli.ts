/**
 * `npm run bench:model`: writes a synthetic model (packages/test-support's `makeSyntheticModel`)
 * from the shell.
 *
 * Usage: `npm run bench:model -w @quandex/bench -- [--preset 85m|tiny|slow] [--dim N] [--layers N]
 * [--heads N] [--kv-heads N] [--ffn N] [--context-length N] [--seed N] [--out PATH] [--force]`.
 * It prints the written file's path and size as JSON.
 */
import { parseArgs } from "node:util";
import { makeSyntheticModel, syntheticModelPresets } from "@quandex/test-support";

async function main(): Promise<void> {
    const { values } = parseArgs({
        options: {
            preset: { type: "string", default: "85m" },
            dim: { type: "string" },
            layers: { type: "string" },
            heads: { type: "string" },
            "kv-heads": { type: "string" },
            ffn: { type: "string" },
            "context-length": { type: "string" },
            seed: { type: "string" },
            std: { type: "string" },
            "tokenizer-from": { type: "string" },
            out: { type: "string" },
            force: { type: "boolean", default: false },
            help: { type: "boolean", default: false }
        }
    });
    if (values.help) {
        console.log(
            "Usage: bench:model [--preset 85m|tiny|slow] [--dim N] [--layers N] [--heads N] [--kv-heads N] [--ffn N]\n" +
                "                   [--context-length N] [--seed N] [--std X] [--tokenizer-from PATH] [--out PATH] [--force]\n" +
                `Presets: ${JSON.stringify(syntheticModelPresets)}`
        );
        return;
    }
    const preset = syntheticModelPresets[values.preset as keyof typeof syntheticModelPresets];
    if (preset == null) throw new Error(`unknown preset ${values.preset}; use one of ${Object.keys(syntheticModelPresets).join(", ")}`);
    const int = (value: string | undefined): number | undefined => (value == null ? undefined : Number.parseInt(value, 10));
    const dim = int(values.dim) ?? preset.dim;
    const heads = int(values.heads) ?? (values.dim == null ? preset.heads : undefined);
    const model = await makeSyntheticModel({
        dim,
        layers: int(values.layers) ?? preset.layers,
        heads,
        kvHeads: int(values["kv-heads"]) ?? (values.dim == null && values.heads == null ? preset.kvHeads : undefined),
        ffn: int(values.ffn) ?? preset.ffn,
        contextLength: int(values["context-length"]),
        seed: int(values.seed),
        std: values.std == null ? undefined : Number(values.std),
        tokenizerFrom: values["tokenizer-from"],
        outPath: values.out,
        reuse: !values.force
    });
    console.log(JSON.stringify(model));
}

main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
});
