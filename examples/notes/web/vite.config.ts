import { defineConfig } from "vite";

// No @vitejs/plugin-react: Vite's built-in esbuild handles TSX with the
// automatic JSX runtime, which is all this app needs (no Fast Refresh).
export default defineConfig({
  esbuild: { jsx: "automatic" },
  build: { outDir: "dist", emptyOutDir: true },
});
