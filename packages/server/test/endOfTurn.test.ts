import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { endOfTurn } from "../src/http/endOfTurn.js";

describe("endOfTurn", () => {
    it("hands every caller in one turn the same promise, and a new one next turn", async () => {
        const first = endOfTurn();
        assert.equal(endOfTurn(), first);
        await first;
        const next = endOfTurn();
        assert.notEqual(next, first);
        await next;
    });

    it("settles after the I/O callbacks already due, in the check phase, not as a microtask", async () => {
        const order: string[] = [];
        const waited = endOfTurn().then(() => order.push("endOfTurn"));
        await Promise.resolve().then(() => order.push("microtask"));
        assert.deepEqual(order, ["microtask"]);
        setImmediate(() => order.push("later immediate"));
        await waited;
        assert.deepEqual(order, ["microtask", "endOfTurn"]);
    });
});
