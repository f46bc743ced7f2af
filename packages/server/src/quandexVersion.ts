import { readFileSync } from "node:fs";

/** This server's version, from its package.json (one place to bump), for `/api/version`, the CLI and the OpenAPI document. */
export const quandexVersion: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
