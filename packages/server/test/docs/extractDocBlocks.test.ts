import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { extractDocBlocks, markingProblem } from "./extractDocBlocks.js";

const sample = [
    "# Title", // 1
    "", // 2
    "<!-- doc-test: run -->", // 3
    "```bash", // 4
    "curl -s $Q/health", // 5
    "```", // 6
    "", // 7
    "```json", // 8
    '{"status": "ok"}', // 9
    "```", // 10
    "", // 11
    "- a list item:", // 12
    "", // 13
    "  <!-- doc-test: skip needs a GPU -->", // 14
    "  ```bash", // 15
    "  nvidia-smi", // 16
    "  ```", // 17
    "", // 18
    "```bash", // 19
    "rm -rf /", // 20
    "```", // 21
    "", // 22
    "<!-- doc-test: template the key -->", // 23
    "```python", // 24
    'key = "qdx_..."', // 25
    "```", // 26
    "", // 27
    "```", // 28
    "quandex serve", // 29
    "```" // 30
].join("\n");

describe("extractDocBlocks", () => {
    const blocks = extractDocBlocks("SAMPLE.md", sample);

    it("finds every fenced block, nested ones included, with its fence's line and language", () => {
        assert.deepEqual(
            blocks.map((b) => [b.line, b.lang, b.mode, b.reason]),
            [
                [4, "bash", "run", ""],
                [8, "json", null, ""],
                [15, "bash", "skip", "needs a GPU"],
                [19, "bash", null, ""],
                [24, "python", "template", "the key"],
                [28, "", null, ""]
            ]
        );
        assert.equal(blocks[2]!.code, "nvidia-smi");
    });

    it("reports unmarked code, unlabelled fences and templates that do not say so; accepts data blocks", () => {
        const problems = blocks.map(markingProblem);
        assert.equal(problems[0], null);
        assert.equal(problems[1], null, "json is shown, not run");
        assert.equal(problems[2], null);
        assert.match(problems[3]!, /SAMPLE\.md:19: a `bash` block without a <!-- doc-test/);
        assert.match(problems[4]!, /SAMPLE\.md:24: a template must say so/);
        assert.match(problems[5]!, /SAMPLE\.md:28: a fenced block without a language/);
    });

    it("refuses run markers on languages it cannot run and markers without reasons", () => {
        const [yamlRun, skipNoReason, pythonEnv] = extractDocBlocks(
            "X.md",
            "<!-- doc-test: run -->\n```yaml\na: 1\n```\n\n<!-- doc-test: skip -->\n```bash\nls\n```\n\n<!-- doc-test: env -->\n```python\nx = 1\n```\n"
        );
        assert.match(markingProblem(yamlRun!)!, /cannot run `yaml` blocks/);
        assert.match(markingProblem(skipNoReason!)!, /a skip marker needs a reason/);
        assert.match(markingProblem(pythonEnv!)!, /only shell blocks can be marked env/);
    });
});
