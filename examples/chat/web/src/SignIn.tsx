import { useState, type FormEvent } from "react";
// ANCHOR: sign-in
import { useConvex, useMutation, useQuery } from "convex/react";
import { ConvexError } from "convex/values";
import { api } from "../convex/_generated/api";

/**
 * Where tokens come from: `?issuer=URL` in the page's address, else
 * VITE_DEV_ISSUER_URL, else the dev issuer's default address. With a real
 * provider (Clerk, Auth0), the fetcher below asks that provider's SDK for a
 * token instead (e.g. Clerk's `getToken({ template: "convex" })`).
 */
function issuerUrl(): string {
  return (
    new URLSearchParams(window.location.search).get("issuer") ??
    import.meta.env.VITE_DEV_ISSUER_URL ??
    "http://127.0.0.1:3213"
  );
}

async function fetchDevToken(name: string): Promise<string | null> {
  const response = await fetch(
    `${issuerUrl()}/token?name=${encodeURIComponent(name)}`,
  );
  if (!response.ok) return null;
  const { token } = (await response.json()) as { token: string };
  return token;
}

/** Sign in with a token from the issuer; the server verifies it. */
export function SignIn() {
  const convex = useConvex();
  const identity = useQuery(api.users.identity);
  const sendAsMe = useMutation(api.messages.sendAsMe);
  const [name, setName] = useState("");
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);

  function signIn(e: FormEvent) {
    e.preventDefault();
    const who = name.trim();
    if (!who) return;
    setError(null);
    // The client calls the fetcher now, again to refresh the token before
    // it expires, and whenever the server refuses one.
    convex.setAuth(
      () => fetchDevToken(who),
      (ok) => {
        if (!ok) setError("The server refused the token.");
      },
    );
  }

  async function send(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await sendAsMe({ body: draft });
      setDraft("");
    } catch (err) {
      const code =
        err instanceof ConvexError
          ? (err.data as { code?: string })?.code
          : undefined;
      setError(`Couldn't send (${code ?? String(err)}).`);
    }
  }
  // ANCHOR_END: sign-in

  return (
    <section className="card signin" aria-label="Sign in">
      <h2>Sign in</h2>
      {identity ? (
        <>
          <p className="hint" data-testid="signed-in-as">
            Signed in as <strong>{identity.name ?? identity.subject}</strong>
          </p>
          <form className="composer" onSubmit={send}>
            <input
              data-testid="send-as-me-input"
              value={draft}
              placeholder="Message as yourself…"
              aria-label="Message as yourself"
              onChange={(e) => setDraft(e.target.value)}
            />
            <button type="submit" data-testid="send-as-me">
              Send
            </button>
          </form>
          <button
            type="button"
            className="secondary"
            data-testid="signout"
            onClick={() => convex.clearAuth()}
          >
            Sign out
          </button>
        </>
      ) : (
        <form className="composer" onSubmit={signIn}>
          <input
            data-testid="signin-name"
            value={name}
            placeholder="Name (dev issuer)"
            aria-label="Name to sign in as"
            onChange={(e) => setName(e.target.value)}
          />
          <button type="submit" data-testid="signin">
            Sign in
          </button>
        </form>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
