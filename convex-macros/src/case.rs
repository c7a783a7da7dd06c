//! Case conversion from Rust's `snake_case` function names to the names the
//! generated code needs: the exported `camelCase` name and the `PascalCase`
//! prefix of the arguments struct.

/// Strips the `r#` prefix of a raw identifier (`r#type` becomes `type`).
pub(crate) fn unraw(ident: &str) -> &str {
    ident.strip_prefix("r#").unwrap_or(ident)
}

/// Converts a `snake_case` identifier to `camelCase`: `by_token` becomes
/// `byToken`.
///
/// Leading underscores are kept (`_private_fn` becomes `_privateFn`), a raw
/// identifier prefix is dropped, and the first word is kept as written.
pub(crate) fn camel_case(ident: &str) -> String {
    convert(ident, false)
}

/// Converts a `snake_case` identifier to `PascalCase`: `by_token` becomes
/// `ByToken`.
///
/// Leading underscores are kept (`_private_fn` becomes `_PrivateFn`) and a raw
/// identifier prefix is dropped.
pub(crate) fn pascal_case(ident: &str) -> String {
    convert(ident, true)
}

/// Shared implementation of [`camel_case`] and [`pascal_case`].
///
/// Underscores after the leading ones separate words; every word but the
/// first one (or every word, for `PascalCase`) gets its first character
/// upper-cased, and the rest of each word is kept as written.
fn convert(ident: &str, capitalize_first: bool) -> String {
    let ident = unraw(ident);
    let body = ident.trim_start_matches('_');
    let leading = &ident[..ident.len() - body.len()];

    let mut out = String::with_capacity(ident.len());
    out.push_str(leading);
    let words = body.split('_').filter(|word| !word.is_empty());
    for (index, word) in words.enumerate() {
        if index == 0 && !capitalize_first {
            out.push_str(word);
            continue;
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{camel_case, pascal_case, unraw};

    #[test]
    fn camel_case_joins_words() {
        assert_eq!(camel_case("by_token"), "byToken");
        assert_eq!(camel_case("send_message_to_all"), "sendMessageToAll");
        assert_eq!(camel_case("list"), "list");
        assert_eq!(camel_case("get_2fa_code"), "get2faCode");
    }

    #[test]
    fn pascal_case_capitalizes_every_word() {
        assert_eq!(pascal_case("by_token"), "ByToken");
        assert_eq!(pascal_case("send_message_to_all"), "SendMessageToAll");
        assert_eq!(pascal_case("list"), "List");
        assert_eq!(pascal_case("get_2fa_code"), "Get2faCode");
    }

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        assert_eq!(unraw("r#type"), "type");
        assert_eq!(unraw("plain"), "plain");
        assert_eq!(camel_case("r#type"), "type");
        assert_eq!(pascal_case("r#type"), "Type");
        assert_eq!(pascal_case("r#match_all"), "MatchAll");
    }

    #[test]
    fn leading_underscores_are_kept() {
        assert_eq!(camel_case("_private_fn"), "_privateFn");
        assert_eq!(camel_case("__hidden"), "__hidden");
        assert_eq!(pascal_case("_private_fn"), "_PrivateFn");
        assert_eq!(pascal_case("__hidden"), "__Hidden");
    }

    #[test]
    fn repeated_and_trailing_underscores_are_dropped() {
        assert_eq!(camel_case("a__b"), "aB");
        assert_eq!(camel_case("type_"), "type");
        assert_eq!(pascal_case("type_"), "Type");
    }

    #[test]
    fn already_camel_case_is_kept() {
        assert_eq!(camel_case("byToken"), "byToken");
        assert_eq!(pascal_case("byToken"), "ByToken");
    }

    #[test]
    fn non_ascii_words_are_capitalized() {
        assert_eq!(camel_case("über_alles"), "überAlles");
        assert_eq!(pascal_case("über_alles"), "ÜberAlles");
    }
}
