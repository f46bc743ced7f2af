/** The parts of `GET /v1/stats` the soak scenarios watch: sequences in use and the queue. */
export type SoakStats = {
    activeSequences: number;
    queueDepth: number;
    maxQueue: number;
    rssBytes: number;
};

export async function readStats(baseUrl: string, apiKey: string): Promise<SoakStats> {
    const response = await fetch(`${baseUrl}/v1/stats`, {
        headers: { authorization: `Bearer ${apiKey}` }
    });
    if (!response.ok) throw new Error(`GET /v1/stats: HTTP ${response.status} ${await response.text()}`);
    const { server } = (await response.json()) as {
        server: {
            active_sequences: number;
            queue_depth: number;
            max_queue: number;
            rss_bytes: number;
        };
    };
    return {
        activeSequences: server.active_sequences,
        queueDepth: server.queue_depth,
        maxQueue: server.max_queue,
        rssBytes: server.rss_bytes
    };
}
