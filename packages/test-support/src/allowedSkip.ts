/**
 * The one way a test may skip: for a reason outside the project (a binary that is not installed,
 * hardware this machine lacks). It prints the reason, so a skip is never silent, and returns it for
 * `{ skip }` or `t.skip()`. Under CI (`CI=true` or `QUANDEX_CI=1`, which `.ci/run` sets) CI must run
 * everything, so it throws instead and the suite fails with that reason.
 */
export function allowedSkip(reason: string): string {
    if (process.env.CI === "true" || process.env.QUANDEX_CI === "1") {
        throw new Error(`cannot run: ${reason} (under CI=true or QUANDEX_CI=1 a skip is a failure)`);
    }
    process.stdout.write(`skipped: ${reason}\n`);
    return reason;
}
