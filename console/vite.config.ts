// The console's build: two pages (the app and the login page), every asset
// from this directory, nothing inlined (the server's CSP has no
// 'unsafe-inline'), no module-preload polyfill (it would be inline code).
import { defineConfig } from "vite";
import { resolve } from "node:path";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    rollupOptions: {
      input: {
        index: resolve(__dirname, "index.html"),
        login: resolve(__dirname, "login.html"),
      },
    },
  },
});
