let pending: Promise<void> | undefined;

const settle = (resolve: () => void): void => {
    pending = undefined;
    resolve();
};

/**
 * A promise that settles in the check phase of the current event-loop turn, after every socket the
 * poll phase found readable has been handled. All callers in one turn share one promise and one
 * `setImmediate`, so waiting on it costs a promise hop, not a timer per caller.
 */
export function endOfTurn(): Promise<void> {
    pending ??= new Promise<void>((resolve) => setImmediate(settle, resolve));
    return pending;
}
