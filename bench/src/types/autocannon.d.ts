// The slice of autocannon 8's API the benchmark uses (the package ships no types).
declare module "autocannon" {
    type Histogram = { average: number; mean: number; stddev: number; min: number; max: number; total: number; p50: number; p99: number };
    export type AutocannonResult = {
        requests: Histogram;
        latency: Histogram;
        duration: number;
        errors: number;
        timeouts: number;
        non2xx: number;
        statusCodeStats: Record<string, { count: number }>;
    };
    export type AutocannonOptions = {
        url: string;
        connections?: number;
        duration?: number;
        pipelining?: number;
        headers?: Record<string, string>;
    };
    function autocannon(options: AutocannonOptions): Promise<AutocannonResult>;
    export default autocannon;
}
