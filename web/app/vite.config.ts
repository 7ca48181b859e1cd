import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Two pages: the app (Preact: chat, operator console, inspector) and the useChat sample (React,
// as @ai-sdk/react needs). The SDK and the transport are bundled from their TypeScript sources.
export default defineConfig({
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: {
    alias: {
      "@tether/client": here("../client/src/index.ts"),
      "@tether/ai-transport": here("../ai-transport/src/index.ts"),
    },
  },
  build: {
    target: "es2022",
    reportCompressedSize: true,
    rollupOptions: { input: { main: here("index.html"), usechat: here("usechat.html") } },
  },
});
