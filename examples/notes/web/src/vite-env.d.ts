/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Deployment URL for `vite dev`; the built page uses its own origin. */
  readonly VITE_CONVEX_URL?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}
