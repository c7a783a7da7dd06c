import {
  useEffect,
  useRef,
  useState,
  type ChangeEvent,
  type FormEvent,
  type SyntheticEvent,
} from "react";
// ANCHOR: imports
import {
  insertAtTop,
  useConvexConnectionState,
  useMutation,
  usePaginatedQuery,
  useQuery,
} from "convex/react";
import type { FunctionReturnType } from "convex/server";
import { ConvexError } from "convex/values";
import { api } from "../convex/_generated/api";
import type { Doc, Id } from "../convex/_generated/dataModel";
// ANCHOR_END: imports
import { DEFAULT_NAME, useIdentity, type Identity } from "./identity";
import { SignIn } from "./SignIn";

type Message = Doc<"messages">;
/** A message as `messages:list` returns it: an image message has its URL. */
type ListedMessage = FunctionReturnType<typeof api.messages.list>[number];

const OPTIMISTIC_PREFIX = "optimistic:";

function isOptimistic(message: Message): boolean {
  return String(message._id).startsWith(OPTIMISTIC_PREFIX);
}

function formatTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** A stable hue for a user id, so each author gets their own colour. */
function hue(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) % 360;
  return h;
}

function isMine(message: Message, identity: Identity): boolean {
  return !!identity.user && message.user === identity.user._id;
}

/** The messages module only returns user ids; we know our own name. */
function authorName(message: Message, identity: Identity): string {
  if (identity.user && isMine(message, identity)) return identity.user.name;
  return `User ${String(message.user).slice(-4)}`;
}

function authorLabel(message: Message, identity: Identity): string {
  const name = authorName(message, identity);
  return isMine(message, identity) ? `${name} (you)` : name;
}

// ANCHOR: error-text
function errorText(err: unknown): string {
  if (err instanceof ConvexError) {
    const data = err.data as { code?: string } | string;
    const code = typeof data === "string" ? data : data?.code;
    if (code === "EMPTY_BODY")
      return "Message can't be empty — type something first.";
    if (code === "UNKNOWN_USER")
      return "Your user no longer exists — set your name again.";
    if (code === "UNKNOWN_FILE")
      return "The uploaded image is gone — try attaching it again.";
    return `Couldn't send (${code ?? "error"}).`;
  }
  return `Couldn't send: ${err instanceof Error ? err.message : String(err)}`;
}
// ANCHOR_END: error-text

/** The text for a failed image upload (the upload itself or `sendImage`). */
function uploadErrorText(err: unknown): string {
  if (err instanceof ConvexError) return errorText(err);
  return `Couldn't send the image: ${err instanceof Error ? err.message : String(err)}`;
}

// ANCHOR: upload
/** POSTs a file to an upload URL; resolves with the new file's storage id. */
async function uploadFile(url: string, file: File): Promise<Id<"_storage">> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  if (!res.ok) {
    const detail = (await res.text().catch(() => "")).trim();
    throw new Error(
      `upload failed (${res.status}${detail ? `: ${detail.slice(0, 200)}` : ""})`,
    );
  }
  const { storageId } = (await res.json()) as { storageId: Id<"_storage"> };
  return storageId;
}
// ANCHOR_END: upload

export function App() {
  const identity = useIdentity();
  return (
    <div className="app">
      <Header identity={identity} />
      <main className="layout">
        <Chat identity={identity} />
        <div className="sidebar">
          <SignIn />
          <Search />
          <History />
        </div>
      </main>
    </div>
  );
}

function Header({ identity }: { identity: Identity }) {
  const { isWebSocketConnected } = useConvexConnectionState();
  const [draft, setDraft] = useState(identity.name);
  const [saving, setSaving] = useState(false);
  const dirty = draft.trim() !== identity.name;

  async function commit() {
    if (!dirty && identity.user) return;
    setSaving(true);
    try {
      await identity.setName(draft);
    } finally {
      setSaving(false);
    }
  }

  return (
    <header className="header">
      <h1>
        convex-rs chat
        <span
          className={`status ${isWebSocketConnected ? "online" : "offline"}`}
          title={isWebSocketConnected ? "Connected" : "Reconnecting…"}
        />
      </h1>
      <form
        className="identity"
        data-testid="identity"
        data-user-id={identity.user?._id ?? ""}
        onSubmit={(e) => {
          e.preventDefault();
          void commit();
        }}
      >
        <label htmlFor="name-input">Your name</label>
        <input
          id="name-input"
          data-testid="name-input"
          value={draft}
          placeholder={DEFAULT_NAME}
          maxLength={40}
          autoComplete="off"
          onChange={(e) => setDraft(e.target.value)}
          onBlur={() => {
            if (dirty) void commit();
          }}
        />
        <button
          type="submit"
          className="secondary"
          disabled={saving || (!dirty && !!identity.user)}
        >
          {saving ? "Saving…" : identity.user && !dirty ? "Saved" : "Set"}
        </button>
      </form>
    </header>
  );
}

function Chat({ identity }: { identity: Identity }) {
  // ANCHOR: send
  const messages = useQuery(api.messages.list);
  const send = useMutation(api.messages.send).withOptimisticUpdate(
    (store, { body, user }) => {
      if (body.trim() === "") return; // the server will reject it: show nothing
      const item: Message = {
        _id: `${OPTIMISTIC_PREFIX}${Date.now()}-${Math.random().toString(36).slice(2)}` as Id<"messages">,
        _creationTime: Date.now(),
        body,
        user,
      };
      const current = store.getQuery(api.messages.list, {});
      if (current !== undefined) {
        store.setQuery(api.messages.list, {}, [...current, item]);
      }
      insertAtTop({
        paginatedQuery: api.messages.page,
        argsToMatch: {},
        localQueryStore: store,
        item,
      });
    },
  );
  // ANCHOR_END: send

  const generateUploadUrl = useMutation(api.messages.generateUploadUrl);
  const sendImage = useMutation(api.messages.sendImage);

  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [uploading, setUploading] = useState(false);
  const listRef = useRef<HTMLOListElement>(null);

  // Keep the newest message in view.
  useEffect(() => {
    const el = listRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages?.length]);

  // An image grows its message once loaded: stay at the bottom if we were.
  function onImageLoad(e: SyntheticEvent<HTMLImageElement>) {
    const el = listRef.current;
    if (!el) return;
    const fromBottom = el.scrollHeight - el.scrollTop - el.clientHeight;
    if (fromBottom <= e.currentTarget.offsetHeight + 48) {
      el.scrollTop = el.scrollHeight;
    }
  }

  // ANCHOR: on-submit
  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    const body = draft.trim();
    setError(null);
    setDraft("");
    try {
      const user = await identity.ensureUser();
      await send({ body, user });
      window.__lastSendConfirmedAt = Date.now();
    } catch (err) {
      setError(errorText(err));
      if (body !== "") setDraft((d) => (d === "" ? body : d));
    }
  }
  // ANCHOR_END: on-submit

  // ANCHOR: on-attach
  async function onAttach(e: ChangeEvent<HTMLInputElement>) {
    const input = e.currentTarget;
    const file = input.files?.[0];
    if (!file) return;
    setError(null);
    setUploading(true);
    try {
      const user = await identity.ensureUser();
      const url = await generateUploadUrl();
      const storageId = await uploadFile(url, file);
      await sendImage({ storageId, user });
    } catch (err) {
      setError(uploadErrorText(err));
    } finally {
      setUploading(false);
      input.value = ""; // so that choosing the same file again sends it again
    }
  }
  // ANCHOR_END: on-attach

  return (
    <section className="card chat" aria-label="Messages">
      <ol className="messages" ref={listRef} data-testid="message-list">
        {messages === undefined ? (
          <li className="placeholder">Loading messages…</li>
        ) : messages.length === 0 ? (
          <li className="placeholder">No messages yet. Say hello!</li>
        ) : (
          messages.map((m: ListedMessage) => {
            const pending = isOptimistic(m);
            const mine = isMine(m, identity);
            return (
              <li
                key={m._id}
                className={`message${mine ? " mine" : ""}${pending ? " pending" : ""}`}
                data-testid="message"
                data-id={m._id}
                data-pending={pending ? "true" : undefined}
                data-confirmed={pending ? undefined : "true"}
              >
                <span
                  className="avatar"
                  style={{ background: `hsl(${hue(String(m.user))} 65% 55%)` }}
                  aria-hidden
                />
                <div className="bubble">
                  <div className="meta">
                    <span className="author">{authorLabel(m, identity)}</span>
                    <time dateTime={new Date(m._creationTime).toISOString()}>
                      {pending ? "sending…" : formatTime(m._creationTime)}
                    </time>
                  </div>
                  {m.imageUrl ? (
                    <img
                      className="image"
                      src={m.imageUrl}
                      alt={`image from ${authorName(m, identity)}`}
                      data-testid="message-image"
                      onLoad={onImageLoad}
                    />
                  ) : m.image ? (
                    <p className="body missing">Image unavailable</p>
                  ) : null}
                  {(m.body !== "" || !m.image) && (
                    <p className="body">{m.body}</p>
                  )}
                </div>
              </li>
            );
          })
        )}
      </ol>
      <form className="composer" onSubmit={onSubmit}>
        <label
          className={`attach${uploading ? " busy" : ""}`}
          title={uploading ? "Uploading…" : "Attach image"}
        >
          <input
            type="file"
            accept="image/*"
            aria-label="Attach image"
            data-testid="attach-image"
            className="visually-hidden"
            disabled={uploading}
            onChange={(e) => void onAttach(e)}
          />
          {uploading ? <span aria-hidden>…</span> : <ImageIcon />}
        </label>
        <input
          data-testid="message-input"
          value={draft}
          placeholder="Write a message…"
          autoComplete="off"
          aria-label="Message"
          onChange={(e) => {
            setDraft(e.target.value);
            if (error) setError(null);
          }}
        />
        <button type="submit" data-testid="send">
          Send
        </button>
      </form>
      {error && (
        <p className="error" role="alert" data-testid="send-error">
          {error}
        </p>
      )}
    </section>
  );
}

/** A picture icon for the "attach image" control (no emoji font needed). */
function ImageIcon() {
  return (
    <svg
      width="18"
      height="18"
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      strokeWidth="2"
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden
    >
      <rect x="3" y="4" width="18" height="16" rx="2" />
      <circle cx="9" cy="10" r="1.8" />
      <path d="m21 16-5-5-9 9" />
    </svg>
  );
}

// ANCHOR: search
function Search() {
  const [query, setQuery] = useState("");
  // A live query: the results change as matching messages are sent, edited
  // or removed. Nothing to search for means no subscription at all.
  const results = useQuery(
    api.messages.search,
    query.trim() ? { query } : "skip",
  );

  return (
    <section className="card search" role="search" aria-label="Search">
      <h2>Search</h2>
      <p className="hint">Best matches first, live.</p>
      <input
        type="search"
        data-testid="search-input"
        value={query}
        placeholder="Find messages…"
        autoComplete="off"
        aria-label="Search messages"
        onChange={(e) => setQuery(e.target.value)}
      />
      {query.trim() && (
        <ol
          className="search-list"
          data-testid="search-results"
          aria-busy={results === undefined}
        >
          {results === undefined ? (
            <li className="placeholder">Searching…</li>
          ) : results.length === 0 ? (
            <li className="placeholder">No matching messages.</li>
          ) : (
            results.map((m) => (
              <li key={m._id} data-testid="search-result" data-id={m._id}>
                <time>{formatTime(m._creationTime)}</time>
                <span>{m.body}</span>
              </li>
            ))
          )}
        </ol>
      )}
    </section>
  );
}
// ANCHOR_END: search

// ANCHOR: history
function History() {
  const { results, status, loadMore } = usePaginatedQuery(
    api.messages.page,
    {},
    { initialNumItems: 10 },
  );

  return (
    <aside className="card history" aria-label="History">
      <h2>History</h2>
      <p className="hint">Newest first, 10 at a time.</p>
      <ol className="history-list" data-testid="history">
        {status === "LoadingFirstPage" ? (
          <li className="placeholder">Loading…</li>
        ) : results.length === 0 ? (
          <li className="placeholder">Nothing yet.</li>
        ) : (
          results.map((m) => (
            <li
              key={m._id}
              data-testid="history-item"
              className={isOptimistic(m) ? "pending" : undefined}
            >
              <time>{formatTime(m._creationTime)}</time>
              <span className={m.body ? undefined : "image-note"}>
                {m.body || (m.image ? "(image)" : "")}
              </span>
            </li>
          ))
        )}
      </ol>
      <button
        type="button"
        className="secondary"
        data-testid="load-more"
        disabled={status !== "CanLoadMore"}
        onClick={() => loadMore(10)}
      >
        {status === "LoadingMore"
          ? "Loading…"
          : status === "Exhausted"
            ? "Start of history"
            : "Load more"}
      </button>
    </aside>
  );
}
// ANCHOR_END: history
