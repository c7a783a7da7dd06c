use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::value::Value;

/// Who is calling a function.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Identity {
    /// Nobody has authenticated.
    #[default]
    Unauthenticated,
    /// An end user, from a verified JWT.
    User(Box<UserIdentity>),
    /// A deployment administrator (may call internal functions).
    Admin,
    /// A deployment administrator acting as a user (`impersonating`): the
    /// functions see the user; internal functions may be called.
    ActingAs(Box<UserIdentity>),
}

/// An authenticated end user: the claims of their verified token, named as
/// Convex's `UserIdentity` names them.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct UserIdentity {
    /// `"<issuer>|<subject>"`, stable and unique per user: store it to link data to users.
    pub token_identifier: String,
    /// The token's `sub`.
    pub subject: String,
    /// The token's `iss`.
    pub issuer: String,
    /// `name`.
    pub name: Option<String>,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
    /// `nickname`.
    pub nickname: Option<String>,
    /// `preferred_username`.
    pub preferred_username: Option<String>,
    /// `profile`.
    pub profile_url: Option<String>,
    /// `picture`.
    pub picture_url: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: Option<bool>,
    /// `gender`.
    pub gender: Option<String>,
    /// `birthdate`.
    pub birthday: Option<String>,
    /// `zoneinfo`.
    pub timezone: Option<String>,
    /// `locale`.
    pub language: Option<String>,
    /// `phone_number`.
    pub phone_number: Option<String>,
    /// `phone_number_verified`.
    pub phone_number_verified: Option<bool>,
    /// `address` (as JSON text when the token has an object).
    pub address: Option<String>,
    /// `updated_at` (as text).
    pub updated_at: Option<String>,
    /// Every other claim of the token (custom claims), as values.
    pub claims: BTreeMap<String, Value>,
}

/// The standard OIDC claims and the fields they fill.
const STANDARD: [(&str, &str); 17] = [
    ("name", "name"),
    ("given_name", "givenName"),
    ("family_name", "familyName"),
    ("nickname", "nickname"),
    ("preferred_username", "preferredUsername"),
    ("profile", "profileUrl"),
    ("picture", "pictureUrl"),
    ("email", "email"),
    ("email_verified", "emailVerified"),
    ("gender", "gender"),
    ("birthdate", "birthday"),
    ("zoneinfo", "timezone"),
    ("locale", "language"),
    ("phone_number", "phoneNumber"),
    ("phone_number_verified", "phoneNumberVerified"),
    ("address", "address"),
    ("updated_at", "updatedAt"),
];

fn text(claims: &Map<String, Json>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Json::String(s) => Some(s.clone()),
        Json::Null => None,
        other => Some(other.to_string()),
    }
}

fn flag(claims: &Map<String, Json>, name: &str) -> Option<bool> {
    match claims.get(name)? {
        Json::Bool(b) => Some(*b),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl UserIdentity {
    /// The identity an admin acts as: Convex's `UserIdentityAttributes`
    /// (camelCase: `tokenIdentifier` or `issuer` and `subject`, `name`,
    /// `email`, ... and custom fields).
    pub fn from_attributes(attributes: &Map<String, Json>) -> Result<Self, String> {
        let get = |name: &str| attributes.get(name).and_then(Json::as_str);
        let (issuer, subject) = (
            get("issuer").unwrap_or_default(),
            get("subject").unwrap_or_default(),
        );
        let token_identifier = match get("tokenIdentifier") {
            Some(t) => t.to_string(),
            None if !issuer.is_empty() && !subject.is_empty() => format!("{issuer}|{subject}"),
            None => {
                return Err(
                    "the identity to act as needs a tokenIdentifier, or an issuer and a subject"
                        .into(),
                );
            }
        };
        // The same fields as from a token, under their claim names.
        let mut claims = Map::new();
        for (claim, field) in STANDARD {
            if let Some(value) = attributes.get(field) {
                claims.insert(claim.to_string(), value.clone());
            }
        }
        let known: Vec<&str> = STANDARD.iter().map(|(_, field)| *field).collect();
        for (name, value) in attributes {
            if !known.contains(&name.as_str())
                && !["tokenIdentifier", "issuer", "subject"].contains(&name.as_str())
            {
                claims.insert(name.clone(), value.clone());
            }
        }
        let mut identity = UserIdentity::from_claims(issuer, subject, &claims);
        identity.token_identifier = token_identifier;
        Ok(identity)
    }

    /// The identity a verified token's claims describe.
    pub fn from_claims(issuer: &str, subject: &str, claims: &Map<String, Json>) -> Self {
        let standard: Vec<&str> = STANDARD.iter().map(|(claim, _)| *claim).collect();
        let custom = crate::auth::custom_claims(claims, &standard)
            .into_iter()
            .filter_map(|(name, value)| Value::from_json(value).ok().map(|v| (name, v)))
            .collect();
        UserIdentity {
            token_identifier: format!("{issuer}|{subject}"),
            subject: subject.to_string(),
            issuer: issuer.to_string(),
            name: text(claims, "name"),
            given_name: text(claims, "given_name"),
            family_name: text(claims, "family_name"),
            nickname: text(claims, "nickname"),
            preferred_username: text(claims, "preferred_username"),
            profile_url: text(claims, "profile"),
            picture_url: text(claims, "picture"),
            email: text(claims, "email"),
            email_verified: flag(claims, "email_verified"),
            gender: text(claims, "gender"),
            birthday: text(claims, "birthdate"),
            timezone: text(claims, "zoneinfo"),
            language: text(claims, "locale"),
            phone_number: text(claims, "phone_number"),
            phone_number_verified: flag(claims, "phone_number_verified"),
            address: text(claims, "address"),
            updated_at: text(claims, "updated_at"),
            claims: custom,
        }
    }

    /// The identity as Convex's JS `ctx.auth.getUserIdentity()` returns it:
    /// camelCase fields (absent ones left out) plus the custom claims.
    pub fn to_value(&self) -> Value {
        let mut fields: BTreeMap<String, Value> = self.claims.clone();
        fields.insert(
            "tokenIdentifier".into(),
            Value::from(self.token_identifier.as_str()),
        );
        fields.insert("subject".into(), Value::from(self.subject.as_str()));
        fields.insert("issuer".into(), Value::from(self.issuer.as_str()));
        let texts = [
            ("name", &self.name),
            ("givenName", &self.given_name),
            ("familyName", &self.family_name),
            ("nickname", &self.nickname),
            ("preferredUsername", &self.preferred_username),
            ("profileUrl", &self.profile_url),
            ("pictureUrl", &self.picture_url),
            ("email", &self.email),
            ("gender", &self.gender),
            ("birthday", &self.birthday),
            ("timezone", &self.timezone),
            ("language", &self.language),
            ("phoneNumber", &self.phone_number),
            ("address", &self.address),
            ("updatedAt", &self.updated_at),
        ];
        for (name, value) in texts {
            if let Some(value) = value {
                fields.insert(name.into(), Value::from(value.as_str()));
            }
        }
        for (name, value) in [
            ("emailVerified", self.email_verified),
            ("phoneNumberVerified", self.phone_number_verified),
        ] {
            if let Some(value) = value {
                fields.insert(name.into(), Value::Boolean(value));
            }
        }
        Value::Object(fields)
    }
}

impl Identity {
    /// The user, if one is authenticated.
    pub fn user(&self) -> Option<&UserIdentity> {
        match self {
            Identity::User(u) | Identity::ActingAs(u) => Some(u.as_ref()),
            Identity::Unauthenticated | Identity::Admin => None,
        }
    }

    /// Whether the caller holds the deployment's admin key (and so may call
    /// internal functions).
    pub fn is_admin(&self) -> bool {
        matches!(self, Identity::Admin | Identity::ActingAs(_))
    }

    /// The user's identity, if one is authenticated (Convex's
    /// `ctx.auth.getUserIdentity()`).
    pub fn user_identity(&self) -> Option<UserIdentity> {
        self.user().cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_and_custom_claims_become_the_identity() {
        let claims: Map<String, Json> = serde_json::from_value(serde_json::json!({
            "iss": "https://issuer.example", "sub": "user-1", "aud": "app", "exp": 2, "iat": 1,
            "name": "Ada", "email": "ada@example.com", "email_verified": true,
            "picture": "https://p.example/a.png", "updated_at": 1700000000, "org": "acme"
        }))
        .expect("object");
        let identity = UserIdentity::from_claims("https://issuer.example", "user-1", &claims);
        assert_eq!(identity.token_identifier, "https://issuer.example|user-1");
        assert_eq!(identity.name.as_deref(), Some("Ada"));
        assert_eq!(identity.email_verified, Some(true));
        assert_eq!(identity.updated_at.as_deref(), Some("1700000000"));
        assert_eq!(identity.claims.keys().collect::<Vec<_>>(), ["org"]);
        let Value::Object(fields) = identity.to_value() else {
            panic!("an object")
        };
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "email",
                "emailVerified",
                "issuer",
                "name",
                "org",
                "pictureUrl",
                "subject",
                "tokenIdentifier",
                "updatedAt"
            ]
        );
    }
}
