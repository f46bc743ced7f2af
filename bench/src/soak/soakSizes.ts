/** How big each scenario runs: the full run (`npm run soak`) or the CI-sized one inside `npm test`. */
export type SoakSizes = {
    name: "full" | "ci";
    fuzzRequests: number;
    disconnectStreams: number;
    slowReaders: number;
    slowReaderSeconds: number;
    /** Tokens each slow reader's stream asks for. */
    slowReaderTokens: number;
    /** `server.max_queue` of the overload scenario; it sends 10× that. */
    overloadQueue: number;
    /** Requests of the rate-limited burst the crash scenario kills the server in. */
    crashQuota: number;
};

export const soakSizes: Record<SoakSizes["name"], SoakSizes> = {
    full: {
        name: "full",
        fuzzRequests: 10_000,
        disconnectStreams: 1_000,
        slowReaders: 20,
        slowReaderSeconds: 30,
        slowReaderTokens: 1500,
        overloadQueue: 16,
        crashQuota: 200
    },
    ci: {
        name: "ci",
        fuzzRequests: 1_000,
        disconnectStreams: 100,
        slowReaders: 20,
        slowReaderSeconds: 3,
        // Enough to outlast the fast clients' window, little enough that 20 of them finish in seconds on 2 cores.
        slowReaderTokens: 300,
        overloadQueue: 8,
        crashQuota: 20
    }
};
