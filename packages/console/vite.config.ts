import { defineConfig } from "vite";

// The server serves these files at `/` and at `/ui/`, so every asset URL is relative (`base: "./"`).
// Preact's JSX runtime through Vite's own transform: no Babel plugin needed for a production build.
export default defineConfig({
    base: "./",
    oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
    build: {
        outDir: "dist",
        emptyOutDir: true,
        // The server sends a strict CSP without 'unsafe-inline': nothing may be inlined into index.html.
        assetsInlineLimit: 0,
        modulePreload: { polyfill: false },
        sourcemap: false,
        chunkSizeWarningLimit: 400
    }
});
