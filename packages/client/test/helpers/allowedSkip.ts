/**
 * The one way a client test may skip: for a reason outside the project (the server not built, no
 * test model, a tool not installed). It prints the reason and returns it for `{ skip }`; under CI
 * (`CI=true` or `QUANDEX_CI=1`, which `.ci/run` sets) it throws, since CI must run everything.
 * The same rule as `@quandex/test-support`'s `allowedSkip`, kept here because the client's tests
 * depend on the client and the protocol only, never on the engine that package pulls in.
 */
export function allowedSkip(reason: string): string {
    if (process.env.CI === "true" || process.env.QUANDEX_CI === "1") {
        throw new Error(`cannot run: ${reason} (under CI=true or QUANDEX_CI=1 a skip is a failure)`);
    }
    process.stdout.write(`skipped: ${reason}\n`);
    return reason;
}
