import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { ConvexProvider, ConvexReactClient } from "convex/react";
import { App } from "./App";
import "./styles.css";

// The notes binary serves this page, the websocket and the HTTP API on one
// origin, so the deployment URL is the page's own origin. `vite dev` runs on
// another port: point it at the server with VITE_CONVEX_URL.
const deploymentUrl = import.meta.env.VITE_CONVEX_URL || window.location.origin;
const convex = new ConvexReactClient(deploymentUrl);

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <ConvexProvider client={convex}>
      <App />
    </ConvexProvider>
  </StrictMode>,
);
