import { useCallback, useRef, useState } from "react";
import { useConvex, useMutation, useQuery } from "convex/react";
import { api } from "../convex/_generated/api";
import type { Doc, Id } from "../convex/_generated/dataModel";

const TOKEN_KEY = "convex-rs-chat:tokenIdentifier";
const NAME_KEY = "convex-rs-chat:name";

export const DEFAULT_NAME = "Anonymous";

function newToken(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) {
    return `chat|${crypto.randomUUID()}`;
  }
  return `chat|${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
}

function load(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function save(key: string, value: string) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // Private mode etc.: the identity just won't survive a reload.
  }
}

function initialToken(): string {
  const existing = load(TOKEN_KEY);
  if (existing) return existing;
  const token = newToken();
  save(TOKEN_KEY, token);
  return token;
}

export type Identity = {
  /** The name as saved (may be empty: then {@link DEFAULT_NAME} is used). */
  name: string;
  /** The user document: `undefined` while loading, `null` if not created yet. */
  user: Doc<"users"> | null | undefined;
  /** Saves a new name and creates the matching user. */
  setName: (name: string) => Promise<Id<"users">>;
  /** The id of a user with the current name, creating it if needed. */
  ensureUser: () => Promise<Id<"users">>;
};

/**
 * The local identity: a generated tokenIdentifier and a name, both kept in
 * localStorage. The user document is looked up with `users:byToken` and
 * created with `users:create` when the name is set or on the first send.
 * There is no rename function, so a new name gets a new token and user.
 */
export function useIdentity(): Identity {
  const convex = useConvex();
  const createUser = useMutation(api.users.create);
  const [token, setToken] = useState(initialToken);
  const [name, setNameState] = useState(() => load(NAME_KEY) ?? "");
  const user = useQuery(api.users.byToken, { tokenIdentifier: token });

  // Refs so that async callers always see the latest values.
  const latest = useRef({ token, name, user });
  latest.current = { token, name, user };
  // The user this tab created last, before the query catches up with it.
  const created = useRef<{
    token: string;
    name: string;
    id: Id<"users">;
  } | null>(null);
  const pending = useRef<Promise<Id<"users">> | null>(null);

  const ensureUser = useCallback((): Promise<Id<"users">> => {
    if (pending.current) return pending.current;
    const run = async (): Promise<Id<"users">> => {
      const { token, name, user } = latest.current;
      const wanted = name.trim() || DEFAULT_NAME;
      const known = created.current;
      if (known && known.token === token && known.name === wanted)
        return known.id;
      const existing =
        user !== undefined
          ? user
          : await convex.query(api.users.byToken, { tokenIdentifier: token });
      if (existing && existing.name === wanted) return existing._id;
      let useToken = token;
      if (existing) {
        // Same token, other name: start a new identity for the new name.
        useToken = newToken();
        save(TOKEN_KEY, useToken);
        latest.current = {
          ...latest.current,
          token: useToken,
          user: undefined,
        };
        setToken(useToken);
      }
      const id = await createUser({ name: wanted, tokenIdentifier: useToken });
      created.current = { token: useToken, name: wanted, id };
      return id;
    };
    const promise = run().finally(() => {
      pending.current = null;
    });
    pending.current = promise;
    return promise;
  }, [convex, createUser]);

  const setName = useCallback(
    async (next: string) => {
      const trimmed = next.trim();
      save(NAME_KEY, trimmed);
      latest.current = { ...latest.current, name: trimmed };
      setNameState(trimmed);
      // Wait for any creation already under way, then make sure a user with
      // the new name exists.
      if (pending.current) await pending.current.catch(() => undefined);
      return ensureUser();
    },
    [ensureUser],
  );

  return { name, user, setName, ensureUser };
}
