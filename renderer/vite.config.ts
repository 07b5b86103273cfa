import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The app is served by the core (`gatehouse serve`) and loaded from disk by Electron: relative asset
// paths work for both; everything is bundled (no CDN), so the page's CSP can be 'self' only.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../dist-renderer', import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    sourcemap: true,
  },
});
