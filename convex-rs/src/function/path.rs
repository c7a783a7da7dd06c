use std::fmt;

use thiserror::Error;

/// A function's canonical path: `module:name`, the module being a `/`-separated
/// path without extension (`messages:list`, `dir/file:fn`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionPath {
    module: String,
    name: String,
}

/// A path that cannot name a function.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("invalid function path {path:?}: {reason}")]
pub struct InvalidPath {
    /// The path.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FunctionPath {
    /// Builds a path from its parts.
    pub fn new(module: impl Into<String>, name: impl Into<String>) -> Self {
        FunctionPath {
            module: module.into(),
            name: name.into(),
        }
    }

    /// Parses any form the official clients send: `messages`, `messages:default`,
    /// `messages:list`, `messages.js:list`, `dir/file:fn`. The function name
    /// defaults to `default`; a trailing `.js` on the module is dropped.
    pub fn parse(path: &str) -> Result<Self, InvalidPath> {
        let invalid = |reason: &str| InvalidPath {
            path: path.to_string(),
            reason: reason.to_string(),
        };
        let (module, name) = match path.rsplit_once(':') {
            Some((m, n)) => (m, n),
            None => (path, "default"),
        };
        let module = module.strip_suffix(".js").unwrap_or(module);
        if module.is_empty() {
            return Err(invalid("the module is empty"));
        }
        for component in module.split('/') {
            let ok_chars = component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
            if component.is_empty()
                || component.len() > 64
                || !ok_chars
                || !component.chars().any(|c| c.is_ascii_alphanumeric())
            {
                return Err(invalid(
                    "module path components are 1-64 letters, digits, '_', '-' or '.'",
                ));
            }
        }
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !name_ok {
            return Err(invalid("the function name must be an identifier"));
        }
        Ok(FunctionPath {
            module: module.to_string(),
            name: name.to_string(),
        })
    }

    /// The module (`messages`, `dir/file`).
    pub fn module(&self) -> &str {
        &self.module
    }

    /// The exported name (`list`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for FunctionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.module, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_client_form() {
        for (input, expected) in [
            ("messages", "messages:default"),
            ("messages:default", "messages:default"),
            ("messages:list", "messages:list"),
            ("messages.js:list", "messages:list"),
            ("dir/file:fn", "dir/file:fn"),
            ("dir/file.js:fn", "dir/file:fn"),
        ] {
            assert_eq!(FunctionPath::parse(input).unwrap().to_string(), expected);
        }
        for bad in ["", ":x", "a:", "a:1x", "a b:c", "a//b:c", "a:b-c"] {
            assert!(FunctionPath::parse(bad).is_err(), "{bad}");
        }
    }
}
