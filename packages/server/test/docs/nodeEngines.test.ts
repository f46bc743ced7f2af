// The Node versions the project says it supports (package.json `engines`, the README, setup.sh's
// check) must be ones every locked dependency accepts: that is what keeps `npm ci` free of
// EBADENGINE warnings on each supported line (cookie@2, which wants Node 22, once broke it on 20).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import semver from "semver";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(repoRoot, file), "utf8")) as Record<string, unknown>;
const declared = (readJson("package.json").engines as { node: string }).node;

describe("supported Node versions", () => {
    it("is a valid range of maintained lines, Node 20 included while the machines run it", () => {
        assert.ok(semver.validRange(declared), `engines.node ${declared} is not a semver range`);
        for (const version of ["20.19.0", "22.13.0", "24.0.0", "26.0.0"]) assert.ok(semver.satisfies(version, declared), `${version} should be supported by ${declared}`);
        for (const version of ["18.20.0", "20.18.0", "21.7.0", "23.11.0", "25.0.0"])
            assert.ok(!semver.satisfies(version, declared), `${version} should not be supported by ${declared}`);
        assert.ok(semver.satisfies(process.versions.node, declared), `this machine's Node ${process.versions.node} is outside ${declared}`);
    });

    it("is accepted by every package in package-lock.json", () => {
        const lock = readJson("package-lock.json") as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };
        const refused: string[] = [];
        for (const [where, entry] of Object.entries(lock.packages)) {
            const wants = !Array.isArray(entry.engines) ? entry.engines?.node : undefined;
            if (!wants || where === "") continue;
            const range = semver.validRange(wants);
            if (range === null || !semver.subset(declared, range)) refused.push(`${where}@${entry.version ?? "?"} wants node ${wants}`);
        }
        assert.deepEqual(refused, [], `npm ci would warn EBADENGINE on part of ${declared}: pin or override these`);
    });

    it("is the same range in every published workspace package", () => {
        for (const name of ["protocol", "engine", "server", "client"]) {
            const pkg = readJson(`packages/${name}/package.json`) as { engines?: { node?: string } };
            assert.equal(pkg.engines?.node, declared, `packages/${name}/package.json engines.node`);
        }
    });

    it("makes scripts/setup.sh refuse a Node outside the range, in one line, before it installs anything", () => {
        // A checkout whose package.json admits only another major than this Node's.
        const root = mkdtempSync(path.join(os.tmpdir(), "quandex-setup-node-"));
        try {
            mkdirSync(path.join(root, "scripts"));
            copyFileSync(path.join(repoRoot, "scripts/setup.sh"), path.join(root, "scripts/setup.sh"));
            const other = Number(process.versions.node.split(".")[0]) + 2;
            writeFileSync(path.join(root, "package.json"), JSON.stringify({ engines: { node: `^${other}.0.0` } }));
            const result = spawnSync("bash", [path.join(root, "scripts/setup.sh")], { encoding: "utf8" });
            assert.equal(result.status, 1, result.stderr);
            assert.equal(result.stderr, `setup: Node ${process.versions.node} is not supported; use one of ^${other}.0.0 (package.json engines)\n`);
            assert.equal(result.stdout, "");
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});
