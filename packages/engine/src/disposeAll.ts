/**
 * Disposes every part, in order, even when an earlier one fails, then reports every failure: the
 * one error when one part failed, an `AggregateError` naming each when several did. Both engines
 * and their runners tear down through it, so a failing part never leaves the others (a model's
 * weights, a child process) behind, and no failure is swallowed.
 */
export async function disposeAll(what: string, parts: ReadonlyArray<() => Promise<void> | void>): Promise<void> {
    const errors: unknown[] = [];
    for (const dispose of parts) {
        try {
            await dispose();
        } catch (error) {
            errors.push(error);
        }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} parts of ${what} failed to dispose`);
}
