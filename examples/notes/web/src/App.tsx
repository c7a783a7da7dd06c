import { useEffect, useRef, useState, type FormEvent } from "react";
import { useAction, useConvexConnectionState, useQuery } from "convex/react";
import { api } from "../convex/_generated/api";

const TAGS = ["ideas", "work", "home"] as const;
/** How many similar notes to show. */
const SIMILAR_LIMIT = 5;
/** Wait this long after the last keystroke before embedding the text. */
const EMBED_DEBOUNCE_MS = 250;

/** The message of a failed call, without the client's `[CONVEX ...]` and `[Request ID: ...]` prefixes. */
function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message
    .replace(/^\[CONVEX [^\]]*\]\s*/, "")
    .replace(/^\[Request ID: [^\]]*\]\s*/, "")
    .replace(/^Server Error\s*/, "")
    .replace(/^Uncaught Error:\s*/, "")
    .trim();
}

export function App() {
  const { isWebSocketConnected } = useConvexConnectionState();
  return (
    <div className="app">
      <header className="header">
        <h1>
          convex-rs notes
          <span
            className={`status ${isWebSocketConnected ? "online" : "offline"}`}
            title={isWebSocketConnected ? "Connected" : "Reconnecting…"}
          />
        </h1>
        <p className="hint">
          Notes with an embedding: found by similarity (live) and by text.
        </p>
      </header>
      <main className="layout">
        <AddNote />
        <div className="column">
          <Similar />
          <TextSearch />
        </div>
      </main>
    </div>
  );
}

function AddNote() {
  // An action: the server gets the embedding of the note's text from its
  // embeddings endpoint (EMBEDDINGS_URL), then stores the note.
  const addText = useAction(api.notes.addText);
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [tag, setTag] = useState<string>(TAGS[0]);
  const [adding, setAdding] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    if (!title.trim() && !body.trim()) {
      setError("Write a title or some text first.");
      return;
    }
    setAdding(true);
    setError(null);
    try {
      await addText({ title: title.trim(), body: body.trim(), tag });
      setTitle("");
      setBody("");
    } catch (err) {
      setError(errorText(err));
    } finally {
      setAdding(false);
    }
  }

  return (
    <section className="card" aria-label="Add a note">
      <h2>Add a note</h2>
      <form className="note-form" onSubmit={onSubmit}>
        <input
          data-testid="note-title"
          value={title}
          placeholder="Title"
          aria-label="Title"
          autoComplete="off"
          onChange={(e) => setTitle(e.target.value)}
        />
        <textarea
          data-testid="note-body"
          value={body}
          placeholder="What's on your mind?"
          aria-label="Text"
          rows={5}
          onChange={(e) => setBody(e.target.value)}
        />
        <div className="row">
          <select
            data-testid="note-tag"
            value={tag}
            aria-label="Tag"
            onChange={(e) => setTag(e.target.value)}
          >
            {TAGS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
          <button type="submit" data-testid="add-note" disabled={adding}>
            {adding ? "Adding…" : "Add note"}
          </button>
        </div>
      </form>
      {error && (
        <p className="error" role="alert" data-testid="add-error">
          {error}
        </p>
      )}
    </section>
  );
}

/**
 * The embedding of `text` (trimmed), asked for `EMBED_DEBOUNCE_MS` after the
 * last change; `null` for an empty text. Answers to older texts are dropped.
 */
function useEmbedding(text: string) {
  const embed = useAction(api.notes.embed);
  const wanted = text.trim();
  const [vector, setVector] = useState<number[] | null>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setError(null);
    if (!wanted) {
      setVector(null);
      setPending(false);
      return;
    }
    let current = true;
    setPending(true);
    const timer = setTimeout(() => {
      embed({ text: wanted }).then(
        (v) => {
          if (!current) return;
          setVector(v);
          setPending(false);
        },
        (err: unknown) => {
          if (!current) return;
          setError(errorText(err));
          setPending(false);
        },
      );
    }, EMBED_DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [wanted, embed]);

  return { vector: wanted ? vector : null, pending, error };
}

function Similar() {
  const [text, setText] = useState("");
  const { vector, pending, error } = useEmbedding(text);
  // A live query: a note added elsewhere shows up here if it is among the
  // closest, without asking again. No vector means no subscription.
  const results = useQuery(
    api.notes.similar,
    vector ? { vector, limit: SIMILAR_LIMIT } : "skip",
  );
  // Keep showing the last results while the next ones load (no flicker).
  const shown = useRef(results);
  if (results !== undefined) shown.current = results;
  const busy = pending || (vector !== null && results === undefined);

  return (
    <section className="card" role="search" aria-label="Find similar">
      <h2>Find similar</h2>
      <p className="hint">
        The {SIMILAR_LIMIT} closest notes to what you type, live.
      </p>
      <input
        type="search"
        data-testid="similar-input"
        value={text}
        placeholder="Describe a note…"
        aria-label="Find similar notes"
        autoComplete="off"
        onChange={(e) => setText(e.target.value)}
      />
      {error && (
        <p className="error" role="alert" data-testid="similar-error">
          {error}
        </p>
      )}
      {text.trim() && (
        <ol className="results" data-testid="similar-list" aria-busy={busy}>
          {shown.current === undefined ? (
            <li className="placeholder">Searching…</li>
          ) : shown.current.length === 0 ? (
            <li className="placeholder">No notes yet.</li>
          ) : (
            shown.current.map((n) => (
              <li
                key={n._id}
                data-testid="similar-note"
                data-id={n._id}
                data-score={n._score}
              >
                <span className="title">{n.title}</span>
                <span className="tag">{n.tag}</span>
                <span className="score">{n._score.toFixed(3)}</span>
              </li>
            ))
          )}
        </ol>
      )}
    </section>
  );
}

function TextSearch() {
  const [query, setQuery] = useState("");
  const results = useQuery(
    api.notes.search,
    query.trim() ? { query } : "skip",
  );

  return (
    <section className="card" role="search" aria-label="Search text">
      <h2>Search text</h2>
      <p className="hint">Notes whose text has these words, best first.</p>
      <input
        type="search"
        data-testid="search-input"
        value={query}
        placeholder="Words…"
        aria-label="Search notes"
        autoComplete="off"
        onChange={(e) => setQuery(e.target.value)}
      />
      {query.trim() && (
        <ol
          className="results"
          data-testid="search-results"
          aria-busy={results === undefined}
        >
          {results === undefined ? (
            <li className="placeholder">Searching…</li>
          ) : results.length === 0 ? (
            <li className="placeholder">No matching notes.</li>
          ) : (
            results.map((n) => (
              <li key={n._id} data-testid="text-result" data-id={n._id}>
                <span className="title">{n.title}</span>
                <span className="tag">{n.tag}</span>
                <p className="body">{n.body}</p>
              </li>
            ))
          )}
        </ol>
      )}
    </section>
  );
}
