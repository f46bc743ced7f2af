/** `data:` frame; JSON never holds a raw newline, so one line suffices. */
export function dataFrame(payload: unknown): string {
    return `data: ${JSON.stringify(payload)}\n\n`;
}

/** A named event. The name is fixed by us, never user input, but CR/LF would split the frame, so refuse them. */
export function eventFrame(event: string, payload: unknown): string {
    if (/[\r\n]/.test(event)) throw new Error("SSE event names cannot contain CR or LF");
    return `event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`;
}

export const doneFrame = "data: [DONE]\n\n";
export const pingFrame = ": ping\n\n";
