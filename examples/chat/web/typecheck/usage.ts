// Type-level tests of the generated `convex/_generated` files: correct uses of
// `api` must compile and every line after `@ts-expect-error` must not.
// Checked with `npx tsc -p typecheck/tsconfig.json` from `examples/chat/web`
// (nothing here runs; the hooks are only called to type-check their use).

import {
  useAction,
  useMutation,
  usePaginatedQuery,
  useQuery,
} from "convex/react";
import { ConvexHttpClient } from "convex/browser";
import type {
  FunctionArgs,
  FunctionReturnType,
  GenericDataModel,
  PaginationOptions,
} from "convex/server";
import { api, internal } from "../convex/_generated/api.js";
import type {
  DataModel,
  Doc,
  Id,
  TableNames,
} from "../convex/_generated/dataModel.js";

/** `true` when `A` and `B` are the same type. */
type Equals<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2
    ? true
    : false;

/** Compiles only when its type argument is `true`. */
function assertType<T extends true>(): T | undefined {
  return undefined;
}

// The data model.
assertType<Equals<TableNames, "expiries" | "messages" | "users">>();
assertType<DataModel extends GenericDataModel ? true : false>();
assertType<
  Equals<
    Doc<"messages">,
    {
      _id: Id<"messages">;
      _creationTime: number;
      body: string;
      image?: Id<"_storage"> | null;
      user: Id<"users">;
    }
  >
>();
assertType<
  Equals<
    Doc<"users">,
    {
      _id: Id<"users">;
      _creationTime: number;
      name: string;
      tokenIdentifier: string;
    }
  >
>();
assertType<Equals<DataModel["users"]["indexes"]["by_token"], ["tokenIdentifier", "_creationTime"]>>();
assertType<
  Equals<DataModel["messages"]["searchIndexes"], { search_body: { searchField: "body"; filterFields: never } }>
>();

// Argument and return types, from the Rust signatures.
assertType<Equals<FunctionArgs<typeof api.messages.send>, { body: string; user: Id<"users"> }>>();
assertType<Equals<FunctionReturnType<typeof api.messages.send>, Id<"messages">>>();
assertType<Equals<FunctionArgs<typeof api.messages.list>, Record<string, never>>>();
assertType<
  Equals<
    FunctionReturnType<typeof api.messages.list>,
    Array<{
      _id: Id<"messages">;
      _creationTime: number;
      body: string;
      image?: Id<"_storage"> | null;
      imageUrl?: string | null;
      user: Id<"users">;
    }>
  >
>();
assertType<Equals<FunctionReturnType<typeof api.messages.get>, Doc<"messages"> | null>>();
assertType<Equals<FunctionReturnType<typeof api.messages.count>, number>>();
assertType<Equals<FunctionReturnType<typeof api.messages.edit>, null>>();
assertType<Equals<FunctionArgs<typeof api.messages.page>, { paginationOpts: PaginationOptions }>>();
assertType<Equals<FunctionReturnType<typeof api.messages.shout>, string>>();
assertType<Equals<FunctionArgs<typeof api.messages.search>, { query: string }>>();
assertType<Equals<FunctionReturnType<typeof api.messages.search>, Array<Doc<"messages">>>>();
assertType<Equals<FunctionReturnType<typeof api.users.byToken>, Doc<"users"> | null>>();

// File storage: upload URLs, ids and rows of the system table `_storage`.
assertType<Equals<FunctionArgs<typeof api.messages.generateUploadUrl>, Record<string, never>>>();
assertType<Equals<FunctionReturnType<typeof api.messages.generateUploadUrl>, string>>();
assertType<
  Equals<FunctionArgs<typeof api.messages.sendImage>, { storageId: Id<"_storage">; user: Id<"users"> }>
>();
assertType<Equals<FunctionReturnType<typeof api.messages.sendImage>, Id<"messages">>>();
assertType<Equals<(typeof api.messages.generateUploadUrl)["_type"], "mutation">>();
assertType<
  Equals<
    Doc<"_storage">,
    {
      _id: Id<"_storage">;
      _creationTime: number;
      contentType?: string | null;
      sha256: string;
      size: number;
    }
  >
>();

// Scheduling: ids and rows of the system table `_scheduled_functions`.
assertType<
  Equals<FunctionArgs<typeof api.messages.sendLater>, { body: string; delayMs: number; user: Id<"users"> }>
>();
assertType<Equals<FunctionReturnType<typeof api.messages.sendLater>, Id<"_scheduled_functions">>>();
assertType<Equals<FunctionArgs<typeof api.messages.cancelScheduled>, { id: Id<"_scheduled_functions"> }>>();
assertType<
  Equals<
    FunctionReturnType<typeof api.messages.scheduled>,
    Array<{
      _id: Id<"_scheduled_functions">;
      scheduledTime: number;
      state: Doc<"_scheduled_functions">["state"];
    }>
  >
>();
assertType<Equals<Doc<"_scheduled_functions">["state"]["kind"], "pending" | "inProgress" | "success" | "failed" | "canceled">>();
assertType<Equals<FunctionReturnType<typeof api.messages.sendExpiring>, Id<"messages">>>();
assertType<Equals<FunctionReturnType<typeof internal.messages.deliver>, Id<"messages"> | null>>();
assertType<Equals<(typeof internal.messages.wipe)["_visibility"], "internal">>();
assertType<Equals<(typeof api.messages.list)["_type"], "query">>();
assertType<Equals<(typeof api.messages.send)["_type"], "mutation">>();
assertType<Equals<(typeof api.messages.shout)["_type"], "action">>();

/** Uses the React hooks as a component would. */
export function useChat(userId: Id<"users">, messageId: Id<"messages">) {
  const all: Doc<"messages">[] | undefined = useQuery(api.messages.list);
  const alsoAll = useQuery(api.messages.list, {});
  const one: Doc<"messages"> | null | undefined = useQuery(api.messages.get, { id: messageId });
  const count: number | undefined = useQuery(api.messages.count);
  const me = useQuery(api.users.byToken, { tokenIdentifier: "token" });
  const skipped = useQuery(api.users.byToken, "skip");
  const found: Doc<"messages">[] | undefined = useQuery(api.messages.search, { query: "hel" });
  const notSearched = useQuery(api.messages.search, "skip");
  const page = usePaginatedQuery(api.messages.page, {}, { initialNumItems: 10 });
  const pageItems: Doc<"messages">[] = page.results;
  const send = useMutation(api.messages.send);
  const sent: Promise<Id<"messages">> = send({ body: "hello", user: userId });
  const edit = useMutation(api.messages.edit);
  const edited: Promise<null> = edit({ id: messageId, body: "edited" });
  const createUser = useMutation(api.users.create);
  const created: Promise<Id<"users">> = createUser({ name: "Ada", tokenIdentifier: "t" });
  const shout = useAction(api.messages.shout);
  const shouted: Promise<string> = shout({ id: messageId });
  if (one) {
    const body: string = one.body;
    const author: Id<"users"> = one.user;
    const created: number = one._creationTime;
    void [body, author, created];
  }
  const myName: string | undefined = me?.name;
  const imageUrl: string | null | undefined = alsoAll?.[0]?.imageUrl;
  const uploadUrl: Promise<string> = useMutation(api.messages.generateUploadUrl)();
  const imageSent: Promise<Id<"messages">> = useMutation(api.messages.sendImage)({
    storageId: "storage-id" as Id<"_storage">,
    user: userId,
  });
  return {
    all, alsoAll, count, skipped, found, notSearched, pageItems, sent, edited, created, shouted, myName,
    imageUrl, uploadUrl, imageSent,
  };
}

/** Uses the HTTP client, which accepts only public functions. */
export async function viaHttp(client: ConvexHttpClient, userId: Id<"users">) {
  const id: Id<"messages"> = await client.mutation(api.messages.send, { body: "hi", user: userId });
  const messages: Doc<"messages">[] = await client.query(api.messages.list, {});
  return { id, messages };
}

/** Wrong uses: each must be a compile error. */
export function useWrongly(userId: Id<"users">, messageId: Id<"messages">, client: ConvexHttpClient) {
  const send = useMutation(api.messages.send);
  // Wrong argument name.
  // @ts-expect-error `text` is not an argument of messages:send
  void send({ text: "hello", user: userId });
  // Wrong argument type.
  // @ts-expect-error `body` is a string
  void send({ body: 42, user: userId });
  // Missing argument.
  // @ts-expect-error `user` is required
  void send({ body: "hello" });
  // A user id where a message id is expected.
  // @ts-expect-error `id` is an Id<"messages">
  useQuery(api.messages.get, { id: userId });
  // @ts-expect-error `user` is an Id<"users">
  void send({ body: "hello", user: messageId });
  // A message id is not a scheduled function's id.
  // @ts-expect-error `id` is an Id<"_scheduled_functions">
  void useMutation(api.messages.cancelScheduled)({ id: messageId });
  // A message id is not a stored file's id.
  // @ts-expect-error `storageId` is an Id<"_storage">
  void useMutation(api.messages.sendImage)({ storageId: messageId, user: userId });
  // @ts-expect-error messages:sendImage needs its `user`
  void useMutation(api.messages.sendImage)({ storageId: "x" as Id<"_storage"> });
  // A plain string is not an id.
  // @ts-expect-error ids are branded strings
  useQuery(api.messages.get, { id: "not-an-id" });
  // An argument for a function without arguments.
  // @ts-expect-error messages:list takes no arguments
  useQuery(api.messages.list, { extra: 1 });
  // @ts-expect-error messages:search needs its `query`
  useQuery(api.messages.search, {});
  // @ts-expect-error the search `query` is a string
  useQuery(api.messages.search, { query: 42 });
  // Internal functions are not on `api`.
  // @ts-expect-error messages:wipe is internal
  void api.messages.wipe;
  // ... and clients cannot call them through `internal` either.
  // @ts-expect-error the HTTP client only calls public functions
  void client.mutation(internal.messages.wipe, {});
  // @ts-expect-error the hooks only take public functions
  useMutation(internal.messages.wipe);
  // Functions that do not exist.
  // @ts-expect-error there is no messages:nope
  void api.messages.nope;
  // The wrong kind of function.
  // @ts-expect-error messages:send is a mutation
  useQuery(api.messages.send, { body: "hello", user: userId });
  // A query that is not paginated.
  // @ts-expect-error messages:list does not take paginationOpts
  usePaginatedQuery(api.messages.list, {}, { initialNumItems: 10 });
  // The wrong return type.
  // @ts-expect-error messages:count returns a number
  const count: string | undefined = useQuery(api.messages.count);
  // @ts-expect-error messages:get may return null
  const message: Doc<"messages"> | undefined = useQuery(api.messages.get, { id: messageId });
  // A field documents do not have.
  // @ts-expect-error messages have no `title`
  const title: string | undefined = useQuery(api.messages.list)?.[0]?.title;
  return { count, message, title };
}
