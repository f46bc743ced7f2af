/** What one soak scenario measured: the one line it prints, whether it passed, and why not. */
export type SoakFigure = {
    scenario: string;
    engine: string;
    passed: boolean;
    /** The figure line, `scenario [engine]: key=value ...`, printed as is. */
    line: string;
    /** Each pass criterion that failed, with the evidence (a repro, a count). */
    failures: string[];
    /** The measured values behind the line, for RELIABILITY.md and the test's assertions. */
    values: Record<string, number | string | boolean | null>;
};

/** Builds a figure from its measured values and failed checks. */
export function soakFigure(scenario: string, engine: string, values: SoakFigure["values"], failures: string[]): SoakFigure {
    const shown = Object.entries(values)
        .map(([key, value]) => `${key}=${value === null ? "null" : typeof value === "number" && !Number.isInteger(value) ? value.toFixed(1) : String(value)}`)
        .join(" ");
    const passed = failures.length === 0;
    return {
        scenario,
        engine,
        passed,
        line: `${scenario} [${engine}]: ${shown} ${passed ? "PASS" : `FAIL (${failures.length}: ${failures.slice(0, 3).join("; ")})`}`,
        failures,
        values
    };
}
