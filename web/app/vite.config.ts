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
  // `npm run dev`: the API of a running ./tether serve (TETHER_URL, default :4437) behind the dev server
  server: { proxy: { "/v1": { target: process.env.TETHER_URL ?? "http://127.0.0.1:4437", ws: true } } },
  build: {
    target: "es2022",
    reportCompressedSize: true,
    rollupOptions: { input: { main: here("index.html"), usechat: here("usechat.html") } },
  },
});
