use std::collections::BTreeMap;

use crate::value::Value;

/// Who is calling a function.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Identity {
    /// Nobody has authenticated.
    #[default]
    Unauthenticated,
    /// An end user, from a verified JWT.
    User(UserIdentity),
    /// A deployment administrator (may call internal functions).
    Admin,
}

/// An authenticated end user.
#[derive(Clone, Debug, PartialEq)]
pub struct UserIdentity {
    /// `"<issuer>|<subject>"`, stable and unique per user: store it to link data to users.
    pub token_identifier: String,
    /// The token's `sub`.
    pub subject: String,
    /// The token's `iss`.
    pub issuer: String,
    /// Other claims of the token.
    pub claims: BTreeMap<String, Value>,
}

impl Identity {
    /// The user, if one is authenticated.
    pub fn user(&self) -> Option<&UserIdentity> {
        match self {
            Identity::User(u) => Some(u),
            _ => None,
        }
    }
}
