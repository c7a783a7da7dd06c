/// <reference types="vite/client" />

interface ImportMetaEnv {
  /** Deployment URL for `vite dev`; the built page uses its own origin. */
  readonly VITE_CONVEX_URL?: string;
  /** Where the sign-in box gets tokens (default: the dev issuer's address). */
  readonly VITE_DEV_ISSUER_URL?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}

interface Window {
  /** `Date.now()` when the last `messages:send` was confirmed by the server (for tests). */
  __lastSendConfirmedAt?: number;
}
