use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::QueryError;

/// A position in an index scan, carried to clients as an opaque string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// After the entry with this index key (in the scan's direction).
    After(Vec<u8>),
    /// Past the end of the range.
    End,
}

const AFTER: u8 = 1;
const END: u8 = 2;

impl Cursor {
    /// The opaque string form.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::new();
        match self {
            Cursor::After(key) => {
                bytes.push(AFTER);
                bytes.extend_from_slice(key);
            }
            Cursor::End => bytes.push(END),
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Parses the string form.
    pub fn decode(s: &str) -> Result<Cursor, QueryError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| {
            QueryError::InvalidCursor(format!("{s:?} is not a cursor returned by this server"))
        })?;
        match bytes.split_first() {
            Some((&AFTER, key)) => Ok(Cursor::After(key.to_vec())),
            Some((&END, [])) => Ok(Cursor::End),
            _ => Err(QueryError::InvalidCursor(format!(
                "{s:?} is not a cursor returned by this server"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        for c in [
            Cursor::End,
            Cursor::After(vec![]),
            Cursor::After(vec![0, 255, 7]),
        ] {
            assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        }
        assert!(matches!(
            Cursor::decode("!!"),
            Err(QueryError::InvalidCursor(_))
        ));
        assert!(matches!(
            Cursor::decode(""),
            Err(QueryError::InvalidCursor(_))
        ));
        assert!(
            Cursor::decode("AA")
                .unwrap_err()
                .to_string()
                .starts_with("InvalidCursor")
        );
    }
}
