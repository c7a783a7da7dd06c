//! The Convex sync protocol's messages, exactly as they appear on the wire
//! (JSON text frames discriminated by `"type"`).
//!
//! Values inside messages stay as encoded JSON ([`serde_json::Value`]); the
//! session converts them with [`Value::from_json`](crate::value::Value::from_json).
//!
//! Architecture Invariant: only the `sync` module (and the HTTP API) know the
//! wire format.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use crate::value::{decode_ts, encode_ts};

/// A u64 timestamp carried as base64 of its 8 little-endian bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub u64);

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode_ts(self.0))
    }
}

impl<'de> Deserialize<'de> for Ts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        decode_ts(&s).map(Ts).map_err(serde::de::Error::custom)
    }
}

/// Deserializes a field that, when present, is `Some` even if it is `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(d).map(Some)
}

/// The version of a client's view: query set, identity and database timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateVersion {
    /// Version of the query set (the `newVersion` of the last applied ModifyQuerySet).
    pub query_set: u32,
    /// Number of Authenticate messages accepted on this socket.
    pub identity: u32,
    /// The snapshot all results are valid at.
    pub ts: Ts,
}

/// A change to the client's query set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum QuerySetModification {
    /// Subscribe to a query.
    #[serde(rename_all = "camelCase")]
    Add {
        /// Client-chosen id, unique for the client's lifetime.
        query_id: u32,
        /// The function path.
        udf_path: String,
        /// `[argsObject]`.
        args: Vec<Json>,
        /// Journal from a previous run of the same subscription.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        journal: Option<String>,
        /// Component path (admin only; root when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component_path: Option<String>,
    },
    /// Unsubscribe.
    #[serde(rename_all = "camelCase")]
    Remove {
        /// The query.
        query_id: u32,
    },
}

/// Messages from client to server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// First message of every socket.
    #[serde(rename_all = "camelCase")]
    Connect {
        /// UUID of the client instance (kept across reconnects by the JS client).
        session_id: String,
        /// 0 for the first socket.
        connection_count: u32,
        /// Why the previous socket closed.
        #[serde(default)]
        last_close_reason: Option<String>,
        /// Highest timestamp the client has observed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_observed_timestamp: Option<Ts>,
        /// Client clock in ms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_ts: Option<f64>,
    },
    /// Changes the query set.
    #[serde(rename_all = "camelCase")]
    ModifyQuerySet {
        /// Must equal the previous `new_version`.
        base_version: u32,
        /// Must be greater than `base_version`.
        new_version: u32,
        /// Adds and removes.
        modifications: Vec<QuerySetModification>,
    },
    /// Runs a mutation.
    #[serde(rename_all = "camelCase")]
    Mutation {
        /// Client request counter.
        request_id: u32,
        /// The function path.
        udf_path: String,
        /// `[argsObject]`.
        args: Vec<Json>,
        /// Component path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component_path: Option<String>,
    },
    /// Runs an action.
    #[serde(rename_all = "camelCase")]
    Action {
        /// Client request counter.
        request_id: u32,
        /// The function path.
        udf_path: String,
        /// `[argsObject]`.
        args: Vec<Json>,
        /// Component path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        component_path: Option<String>,
    },
    /// Sets or clears the identity.
    #[serde(rename_all = "camelCase")]
    Authenticate {
        /// The identity version before this message.
        base_version: u32,
        /// `User`, `Admin` or `None`.
        token_type: TokenType,
        /// The token (absent for `None`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        /// Identity to act as (admin only; the JS client's name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impersonating: Option<Json>,
        /// Identity to act as (admin only; the Rust client's name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acting_as: Option<Json>,
    },
    /// Telemetry; ignored.
    #[serde(rename_all = "camelCase")]
    Event {
        /// The event type.
        event_type: String,
        /// The payload.
        #[serde(default)]
        event: Json,
    },
}

/// Kinds of Authenticate tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenType {
    /// An end-user JWT.
    User,
    /// A deployment admin key.
    Admin,
    /// Log out.
    None,
}

/// One change in a Transition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StateModification {
    /// A query's new result.
    #[serde(rename_all = "camelCase")]
    QueryUpdated {
        /// The query.
        query_id: u32,
        /// The encoded result.
        value: Json,
        /// `[LEVEL] message` lines.
        log_lines: Vec<String>,
        /// The journal to send back when re-subscribing.
        journal: Option<String>,
    },
    /// A query's new result is an error.
    #[serde(rename_all = "camelCase")]
    QueryFailed {
        /// The query.
        query_id: u32,
        /// The message.
        error_message: String,
        /// `[LEVEL] message` lines.
        log_lines: Vec<String>,
        /// The journal.
        journal: Option<String>,
        /// ConvexError data.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        error_data: Option<Json>,
    },
    /// A query was removed.
    #[serde(rename_all = "camelCase")]
    QueryRemoved {
        /// The query.
        query_id: u32,
    },
}

/// Messages from server to client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ServerMessage {
    /// Moves the client from one state version to the next.
    #[serde(rename_all = "camelCase")]
    Transition {
        /// Must equal the previous Transition's end version.
        start_version: StateVersion,
        /// The new version.
        end_version: StateVersion,
        /// Query changes.
        modifications: Vec<StateModification>,
        /// `clientTs - serverTs` at Connect, in ms.
        client_clock_skew: i64,
        /// Server time in ns when sent.
        server_ts: u64,
    },
    /// Result of a mutation.
    #[serde(rename_all = "camelCase")]
    MutationResponse {
        /// The request.
        request_id: u32,
        /// Whether it succeeded.
        success: bool,
        /// The return value, or the error message.
        result: Json,
        /// Commit timestamp (success only).
        ts: Option<Ts>,
        /// Log lines.
        log_lines: Vec<String>,
        /// ConvexError data.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        error_data: Option<Json>,
    },
    /// Result of an action.
    #[serde(rename_all = "camelCase")]
    ActionResponse {
        /// The request.
        request_id: u32,
        /// Whether it succeeded.
        success: bool,
        /// The return value, or the error message.
        result: Json,
        /// Log lines.
        log_lines: Vec<String>,
        /// ConvexError data.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "present"
        )]
        error_data: Option<Json>,
    },
    /// Authentication failed; the socket closes next.
    #[serde(rename_all = "camelCase")]
    AuthError {
        /// What went wrong.
        error: String,
        /// The identity version before the failed update.
        base_version: u32,
        /// Whether this answers an Authenticate message.
        auth_update_attempted: bool,
    },
    /// A protocol violation; the socket closes next and the client stops.
    #[serde(rename_all = "camelCase")]
    FatalError {
        /// What went wrong.
        error: String,
    },
    /// Keep-alive.
    Ping,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn parses_traced_client_messages() {
        let m: ClientMessage = serde_json::from_value(json!({"type":"Connect","sessionId":"fe63e8e3-ff27-4ab4-8bdc-8c785ead130f","connectionCount":1,
            "lastCloseReason":"InternalServerError","maxObservedTimestamp":"ALFEPZEU6xg=","clientTs":1795551492183u64})).unwrap();
        assert!(matches!(
            m,
            ClientMessage::Connect {
                connection_count: 1,
                max_observed_timestamp: Some(Ts(_)),
                ..
            }
        ));
        let m: ClientMessage = serde_json::from_value(
            json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
            {"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]},
            {"type":"Add","queryId":1,"udfPath":"messages:count","args":[{}],"journal":null}]}),
        )
        .unwrap();
        let ClientMessage::ModifyQuerySet { modifications, .. } = m else {
            panic!()
        };
        assert_eq!(modifications.len(), 2);
        let m: ClientMessage = serde_json::from_value(
            json!({"type":"Authenticate","baseVersion":0,"tokenType":"None"}),
        )
        .unwrap();
        assert!(matches!(
            m,
            ClientMessage::Authenticate {
                token_type: TokenType::None,
                ..
            }
        ));
        let m: ClientMessage = serde_json::from_value(
            json!({"type":"Event","eventType":"ClientConnect","event":{"x":1}}),
        )
        .unwrap();
        assert!(matches!(m, ClientMessage::Event { .. }));
        assert!(serde_json::from_value::<ClientMessage>(json!({"type":"Nope"})).is_err());
    }

    #[test]
    fn serializes_server_messages_like_the_reference() {
        let t = ServerMessage::Transition {
            start_version: StateVersion::default(),
            end_version: StateVersion {
                query_set: 1,
                identity: 0,
                ts: Ts(1_700_000_000_000_000_000),
            },
            modifications: vec![StateModification::QueryUpdated {
                query_id: 0,
                value: json!([]),
                log_lines: vec![],
                journal: None,
            }],
            client_clock_skew: 3,
            server_ts: 5,
        };
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            json!({"type":"Transition","startVersion":{"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="},
                   "endVersion":{"querySet":1,"identity":0,"ts":"AAAqNv6clxc="},
                   "modifications":[{"type":"QueryUpdated","queryId":0,"value":[],"logLines":[],"journal":null}],
                   "clientClockSkew":3,"serverTs":5})
        );
        assert_eq!(
            serde_json::to_value(ServerMessage::Ping).unwrap(),
            json!({"type":"Ping"})
        );
        let failed = ServerMessage::MutationResponse {
            request_id: 2,
            success: false,
            result: json!("boom"),
            ts: None,
            log_lines: vec![],
            error_data: Some(json!({"code":"X"})),
        };
        assert_eq!(
            serde_json::to_value(failed).unwrap(),
            json!({"type":"MutationResponse","requestId":2,"success":false,"result":"boom","ts":null,"logLines":[],"errorData":{"code":"X"}})
        );
    }

    fn json_value() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            (-1e9f64..1e9).prop_map(|f| json!(f)),
            "[a-z]{0,8}".prop_map(Json::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                proptest::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    fn client_message() -> impl Strategy<Value = ClientMessage> {
        let path = "[a-z]{1,6}:[a-z]{1,6}";
        prop_oneof![
            (
                "[0-9a-f-]{36}",
                any::<u32>(),
                proptest::option::of("[A-Za-z]{0,10}"),
                proptest::option::of(any::<u64>())
            )
                .prop_map(|(session_id, connection_count, last_close_reason, ts)| {
                    ClientMessage::Connect {
                        session_id,
                        connection_count,
                        last_close_reason,
                        max_observed_timestamp: ts.map(Ts),
                        client_ts: Some(12.0),
                    }
                }),
            (
                any::<u32>(),
                path,
                json_value(),
                proptest::option::of("[a-z]{0,5}")
            )
                .prop_map(|(q, p, a, j)| {
                    ClientMessage::ModifyQuerySet {
                        base_version: q / 2,
                        new_version: q / 2 + 1,
                        modifications: vec![
                            QuerySetModification::Add {
                                query_id: q,
                                udf_path: p,
                                args: vec![a],
                                journal: j,
                                component_path: None,
                            },
                            QuerySetModification::Remove {
                                query_id: q.wrapping_add(1),
                            },
                        ],
                    }
                }),
            (any::<u32>(), path, json_value()).prop_map(|(r, p, a)| ClientMessage::Mutation {
                request_id: r,
                udf_path: p,
                args: vec![a],
                component_path: None
            }),
            (any::<u32>(), path, json_value()).prop_map(|(r, p, a)| ClientMessage::Action {
                request_id: r,
                udf_path: p,
                args: vec![a],
                component_path: None
            }),
            (any::<u32>(), proptest::option::of("[a-zA-Z0-9.]{1,20}")).prop_map(|(b, v)| {
                ClientMessage::Authenticate {
                    base_version: b,
                    token_type: if v.is_some() {
                        TokenType::User
                    } else {
                        TokenType::None
                    },
                    value: v,
                    impersonating: None,
                    acting_as: None,
                }
            }),
        ]
    }

    fn server_message() -> impl Strategy<Value = ServerMessage> {
        let version =
            (any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(q, i, t)| StateVersion {
                query_set: q,
                identity: i,
                ts: Ts(t),
            });
        let modification = prop_oneof![
            (
                any::<u32>(),
                json_value(),
                proptest::option::of("[a-z]{1,5}")
            )
                .prop_map(|(q, v, j)| {
                    StateModification::QueryUpdated {
                        query_id: q,
                        value: v,
                        log_lines: vec!["[LOG] x".into()],
                        journal: j,
                    }
                }),
            (
                any::<u32>(),
                "[a-z ]{0,10}",
                proptest::option::of(json_value())
            )
                .prop_map(|(q, m, d)| {
                    StateModification::QueryFailed {
                        query_id: q,
                        error_message: m,
                        log_lines: vec![],
                        journal: None,
                        error_data: d,
                    }
                }),
            any::<u32>().prop_map(|q| StateModification::QueryRemoved { query_id: q }),
        ];
        prop_oneof![
            (
                version.clone(),
                version,
                proptest::collection::vec(modification, 0..4),
                any::<i32>(),
                any::<u64>()
            )
                .prop_map(|(s, e, m, skew, ts)| ServerMessage::Transition {
                    start_version: s,
                    end_version: e,
                    modifications: m,
                    client_clock_skew: i64::from(skew),
                    server_ts: ts
                }),
            (
                any::<u32>(),
                json_value(),
                proptest::option::of(any::<u64>())
            )
                .prop_map(|(r, v, ts)| {
                    ServerMessage::MutationResponse {
                        request_id: r,
                        success: ts.is_some(),
                        result: v,
                        ts: ts.map(Ts),
                        log_lines: vec![],
                        error_data: None,
                    }
                }),
            (any::<u32>(), json_value()).prop_map(|(r, v)| ServerMessage::ActionResponse {
                request_id: r,
                success: false,
                result: json!("e"),
                log_lines: vec![],
                error_data: Some(v)
            }),
            ("[a-z]{0,8}", any::<u32>(), any::<bool>()).prop_map(|(e, b, a)| {
                ServerMessage::AuthError {
                    error: e,
                    base_version: b,
                    auth_update_attempted: a,
                }
            }),
            "[a-z]{0,8}".prop_map(|error| ServerMessage::FatalError { error }),
            Just(ServerMessage::Ping),
        ]
    }

    proptest! {
        #[test]
        fn client_messages_round_trip(m in client_message()) {
            let text = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(serde_json::from_str::<ClientMessage>(&text).unwrap(), m);
        }

        #[test]
        fn server_messages_round_trip(m in server_message()) {
            let text = serde_json::to_string(&m).unwrap();
            prop_assert_eq!(serde_json::from_str::<ServerMessage>(&text).unwrap(), m);
        }
    }
}
