/** A greedy prompt the soak scenarios use as their "normal request" and their correctness check. */
export const greedyRequest = {
    prompt: "Once upon a time",
    max_tokens: 24,
    temperature: 0
};

/** One non-streamed `POST /v1/generate`; the text, or the status and error code it answered with. */
export async function generateOnce(
    baseUrl: string,
    apiKey: string,
    body: Record<string, unknown>
): Promise<
    | { ok: true; text: string; ms: number }
    | {
          ok: false;
          status: number;
          code: string | null;
          retryAfter: string | null;
          ms: number;
      }
> {
    const started = performance.now();
    const response = await fetch(`${baseUrl}/v1/generate`, {
        method: "POST",
        headers: {
            authorization: `Bearer ${apiKey}`,
            "content-type": "application/json"
        },
        body: JSON.stringify(body)
    });
    const json = (await response.json()) as {
        choices?: Array<{ text?: string }>;
        error?: { code?: string };
    };
    const ms = performance.now() - started;
    if (response.ok) return { ok: true, text: json.choices?.[0]?.text ?? "", ms };
    return {
        ok: false,
        status: response.status,
        code: json.error?.code ?? null,
        retryAfter: response.headers.get("retry-after"),
        ms
    };
}
