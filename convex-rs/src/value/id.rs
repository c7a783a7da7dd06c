//! Document ids: table numbers, internal ids, their IDv6 string encoding
//! (protocol §3.5) and the typed [`Id<T>`] wrapper.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::error::ValueError;
use super::value::Value;

/// The number of a table, as embedded in its documents' ids. Valid table
/// numbers are at least 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableNumber(pub u32);

impl fmt::Display for TableNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The 16-byte table-local part of a document id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InternalId(pub [u8; 16]);

impl InternalId {
    /// A new id that sorts by creation time, laid out like a UUIDv7: the
    /// low 48 bits of `unix_millis` big-endian, then 74 random bits from
    /// `rng` (the version nibble `7` and the RFC 9562 variant bits take the
    /// remaining 6 bits).
    ///
    /// Ids made in the same millisecond are ordered randomly among
    /// themselves. Use a cryptographically secure generator (such as
    /// `rand::rng()`) where ids must be unguessable.
    pub fn new_time_ordered(unix_millis: u64, rng: &mut impl rand::Rng) -> InternalId {
        let mut random = [0_u8; 10];
        rng.fill_bytes(&mut random);
        Self::from_time_and_random(unix_millis, random)
    }

    /// The deterministic core of [`InternalId::new_time_ordered`]: builds
    /// the id from a timestamp and 10 bytes of randomness (6 bits of which
    /// are overwritten by the UUIDv7 version and variant).
    pub fn from_time_and_random(unix_millis: u64, random: [u8; 10]) -> InternalId {
        let mut bytes = [0_u8; 16];
        let millis = unix_millis.to_be_bytes();
        bytes[..6].copy_from_slice(&millis[2..]);
        bytes[6..].copy_from_slice(&random);
        bytes[6] = 0x70 | (bytes[6] & 0x0f);
        bytes[8] = 0x80 | (bytes[8] & 0x3f);
        InternalId(bytes)
    }

    /// The creation time of an id made by [`InternalId::new_time_ordered`],
    /// in milliseconds since the Unix epoch (modulo 2^48).
    pub fn unix_millis(&self) -> u64 {
        let mut millis = [0_u8; 8];
        millis[2..].copy_from_slice(&self.0[..6]);
        u64::from_be_bytes(millis)
    }
}

/// The id of a document: its table number and its internal id.
///
/// Ordered by table, then by internal id. Its string form (via
/// [`DocumentId::encode`], `Display` and serde) is the IDv6 encoding used by
/// Convex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocumentId {
    /// The table the document belongs to.
    pub table: TableNumber,
    /// The document's id within the table.
    pub internal: InternalId,
}

/// Crockford's base32 alphabet in lowercase.
const BASE32_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
/// The IDv6 version, XORed into the checksum.
const ID_VERSION: u16 = 0;
/// Bytes of an encoded id other than the table-number varint.
const FIXED_BYTES: usize = 16 + 2;
/// Most bytes a u32 varint takes.
const MAX_VARINT_BYTES: usize = 5;

/// Fletcher-16 with both running sums modulo 256 (protocol §3.5).
fn fletcher16(bytes: &[u8]) -> u16 {
    let (mut sum1, mut sum2) = (0_u8, 0_u8);
    for &byte in bytes {
        sum1 = sum1.wrapping_add(byte);
        sum2 = sum2.wrapping_add(sum1);
    }
    (u16::from(sum2) << 8) | u16::from(sum1)
}

/// Base32 characters needed for `len` bytes (no padding).
const fn base32_len(len: usize) -> usize {
    (len * 8).div_ceil(5)
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(base32_len(bytes.len()));
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

fn base32_digit(c: u8) -> Option<u32> {
    BASE32_ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|d| u32::try_from(d).ok())
}

/// Checks that `text` only uses the base32 alphabet.
fn check_base32_alphabet(text: &str) -> Result<(), String> {
    match text
        .char_indices()
        .find(|&(_, c)| !u8::try_from(c).is_ok_and(|b| base32_digit(b).is_some()))
    {
        None => Ok(()),
        Some((index, c)) => Err(format!(
            "invalid character {c:?} at byte {index}; ids use the lowercase alphabet {:?}",
            std::str::from_utf8(BASE32_ALPHABET).unwrap_or_default()
        )),
    }
}

/// Decodes canonical base32 (leftover bits must be zero).
fn base32_decode(text: &str) -> Result<Vec<u8>, String> {
    check_base32_alphabet(text)?;
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0_u32, 0_u32);
    for c in text.bytes() {
        let digit =
            base32_digit(c).ok_or_else(|| format!("invalid character {:?}", char::from(c)))?;
        buffer = (buffer << 5) | digit;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    if buffer != 0 {
        return Err("the last character has non-zero padding bits".to_owned());
    }
    Ok(out)
}

impl DocumentId {
    /// An id for `internal` in table `table`.
    pub const fn new(table: TableNumber, internal: InternalId) -> Self {
        DocumentId { table, internal }
    }

    /// Encodes the id as IDv6 (protocol §3.5): the table number as a
    /// little-endian base-128 varint, the 16 internal bytes and a
    /// little-endian Fletcher-16 checksum, all in lowercase Crockford
    /// base32 without padding. Table numbers below 128 give 31 characters,
    /// user tables (above 10000) 32.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(MAX_VARINT_BYTES + FIXED_BYTES);
        let mut table = self.table.0;
        loop {
            let low = (table & 0x7f) as u8;
            table >>= 7;
            if table == 0 {
                bytes.push(low);
                break;
            }
            bytes.push(low | 0x80);
        }
        bytes.extend_from_slice(&self.internal.0);
        let checksum = fletcher16(&bytes) ^ ID_VERSION;
        bytes.extend_from_slice(&checksum.to_le_bytes());
        base32_encode(&bytes)
    }

    /// Decodes an IDv6 string, checking its length, alphabet, checksum and
    /// that the table number is a canonical varint of at least 1.
    pub fn decode(s: &str) -> Result<DocumentId, ValueError> {
        Self::decode_inner(s).map_err(|reason| ValueError::InvalidId {
            id: s.to_owned(),
            reason,
        })
    }

    fn decode_inner(s: &str) -> Result<DocumentId, String> {
        check_base32_alphabet(s)?;
        let byte_len = s.len() * 5 / 8;
        let valid_length = (1 + FIXED_BYTES..=MAX_VARINT_BYTES + FIXED_BYTES).contains(&byte_len)
            && base32_len(byte_len) == s.len();
        if !valid_length {
            return Err(format!(
                "ids are 31, 32, 34, 36 or 37 characters long, this one has {}",
                s.len()
            ));
        }
        let bytes = base32_decode(s)?;
        let (body, footer) = bytes.split_at(bytes.len() - 2);
        let expected = fletcher16(body) ^ ID_VERSION;
        if footer != expected.to_le_bytes() {
            return Err("checksum mismatch; the id is corrupted or was not made by Convex".into());
        }
        let varint_len = body.len() - 16;
        let (varint, internal) = body.split_at(varint_len);
        let mut table: u64 = 0;
        for (index, &byte) in varint.iter().enumerate() {
            let is_last = index + 1 == varint_len;
            if (byte & 0x80 == 0) != is_last {
                return Err("malformed table number".into());
            }
            if is_last && byte == 0 && index > 0 {
                return Err("non-canonical table number".into());
            }
            table |= u64::from(byte & 0x7f) << (7 * index);
        }
        let table = u32::try_from(table).map_err(|_| "table number out of range".to_owned())?;
        if table == 0 {
            return Err("table number 0 is not valid".into());
        }
        let internal: [u8; 16] = internal
            .try_into()
            .map_err(|_| "malformed internal id".to_owned())?;
        Ok(DocumentId::new(TableNumber(table), InternalId(internal)))
    }
}

impl fmt::Display for DocumentId {
    /// Writes the IDv6 encoding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for DocumentId {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentId::decode(s)
    }
}

impl Serialize for DocumentId {
    /// Serializes as the IDv6 string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for DocumentId {
    /// Deserializes from an IDv6 string.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(DocumentIdVisitor)
    }
}

struct DocumentIdVisitor;

impl Visitor<'_> for DocumentIdVisitor {
    type Value = DocumentId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a document id string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<DocumentId, E> {
        DocumentId::decode(v).map_err(E::custom)
    }
}

impl From<DocumentId> for Value {
    /// The id's string form.
    fn from(id: DocumentId) -> Self {
        Value::String(id.encode())
    }
}

/// Marker implemented by table types so that ids are typed: an `Id<T>`
/// refers to a document of the table `T::TABLE_NAME`.
pub trait TableType {
    /// The name of the table.
    const TABLE_NAME: &'static str;
}

/// A [`DocumentId`] typed by the table it refers to.
///
/// The type parameter is only a marker: parsing (`FromStr`, serde) checks
/// that the string is a well-formed id, not that its table number belongs
/// to `T`; the table mapping lives in the database layer.
pub struct Id<T> {
    id: DocumentId,
    _table: PhantomData<fn() -> T>,
}

impl<T> Id<T> {
    /// Types `id` as an id of table `T`.
    pub const fn new(id: DocumentId) -> Self {
        Id {
            id,
            _table: PhantomData,
        }
    }

    /// The untyped id.
    pub const fn document_id(&self) -> DocumentId {
        self.id
    }

    /// Reinterprets the id as an id of another table type.
    pub const fn cast<U>(self) -> Id<U> {
        Id::new(self.id)
    }
}

impl<T> Clone for Id<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Id<T> {}

impl<T> PartialEq for Id<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T> Eq for Id<T> {}

impl<T> PartialOrd for Id<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Id<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.id.cmp(&other.id)
    }
}

impl<T> Hash for Id<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl<T> fmt::Debug for Id<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({:?})", self.id.encode())
    }
}

impl<T> fmt::Display for Id<T> {
    /// Writes the IDv6 encoding.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.id, f)
    }
}

impl<T> FromStr for Id<T> {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentId::decode(s).map(Id::new)
    }
}

impl<T> From<Id<T>> for DocumentId {
    fn from(id: Id<T>) -> Self {
        id.id
    }
}

impl<T> From<Id<T>> for Value {
    /// The id's string form.
    fn from(id: Id<T>) -> Self {
        Value::from(id.id)
    }
}

impl<T> Serialize for Id<T> {
    /// Serializes as the IDv6 string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.id.serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for Id<T> {
    /// Deserializes from an IDv6 string; malformed ids are errors.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        DocumentId::deserialize(deserializer).map(Id::new)
    }
}

impl<T: TableType> JsonSchema for Id<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        Cow::Owned(format!("Id_{}", T::TABLE_NAME))
    }

    /// `{"type": "string", "x-convex-id": "<table name>"}`.
    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        let mut schema = serde_json::Map::new();
        schema.insert("type".to_owned(), "string".into());
        schema.insert("x-convex-id".to_owned(), T::TABLE_NAME.into());
        Schema::from(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const REAL_ID: &str = "k570e9j5cj1t5gf0zwf3tq3vkawxhqr0";

    struct Messages;
    impl TableType for Messages {
        const TABLE_NAME: &'static str = "messages";
    }
    struct Users;
    impl TableType for Users {
        const TABLE_NAME: &'static str = "users";
    }

    #[test]
    fn decodes_a_real_convex_id() {
        let id = DocumentId::decode(REAL_ID).expect("real id decodes");
        assert_eq!(id.table, TableNumber(10009));
        assert_eq!(id.encode(), REAL_ID);
        assert_eq!(id.to_string(), REAL_ID);
        assert_eq!(REAL_ID.parse::<DocumentId>(), Ok(id));
    }

    #[test]
    fn every_single_character_change_is_rejected() {
        let alphabet = std::str::from_utf8(BASE32_ALPHABET).expect("ascii");
        for position in 0..REAL_ID.len() {
            for replacement in alphabet.chars() {
                let mut corrupted = REAL_ID.to_owned();
                corrupted.replace_range(position..=position, &replacement.to_string());
                if corrupted != REAL_ID {
                    assert!(DocumentId::decode(&corrupted).is_err(), "{corrupted}");
                }
            }
        }
    }

    #[test]
    fn encoded_lengths() {
        let internal = InternalId([0xab; 16]);
        for (table, len) in [
            (1, 31),
            (127, 31),
            (128, 32),
            (10_001, 32),
            (16_384, 34),
            (1 << 21, 36),
            (u32::MAX, 37),
        ] {
            let id = DocumentId::new(TableNumber(table), internal);
            let encoded = id.encode();
            assert_eq!(encoded.len(), len, "table {table}");
            assert_eq!(DocumentId::decode(&encoded), Ok(id));
        }
    }

    #[test]
    fn rejects_malformed_ids() {
        let cases = [
            ("", "characters long"),
            ("k570e9j5cj1t5gf0zwf3tq3vkawxhq", "characters long"),
            ("k570e9j5cj1t5gf0zwf3tq3vkawxhqr00", "characters long"),
            (
                "K570e9j5cj1t5gf0zwf3tq3vkawxhqr0",
                "invalid character 'K' at byte 0",
            ),
            ("k570e9j5cj1t5gf0zwf3tq3vkawxhqru", "invalid character 'u'"),
            ("k570e9j5cj1t5gf0zwf3tq3vkawxhqs0", "checksum"),
            (
                "k570e9j5cj1t5gf0zwf3tq3vkawxhqé",
                "invalid character 'é' at byte 30",
            ),
            (
                "k570e9j5cj1t5gf0zwf3tq3vkawxhé",
                "invalid character 'é' at byte 29",
            ),
        ];
        for (input, expected) in cases {
            let err = DocumentId::decode(input).expect_err(input);
            assert!(matches!(err, ValueError::InvalidId { .. }));
            assert!(err.to_string().contains(expected), "{input}: {err}");
        }
        // A 31-character id carries 3 padding bits, which must be zero.
        let short = DocumentId::new(TableNumber(1), InternalId([1; 16])).encode();
        let mut padded = short[..30].to_owned();
        let last = base32_digit(short.as_bytes()[30]).expect("valid digit");
        padded.push(char::from(BASE32_ALPHABET[(last | 1) as usize]));
        let err = DocumentId::decode(&padded).expect_err("padding bits");
        assert!(err.to_string().contains("padding bits"), "{err}");
        // Table number 0 with a valid checksum.
        let zero = DocumentId::new(TableNumber(0), InternalId([1; 16])).encode();
        let err = DocumentId::decode(&zero).expect_err("table 0");
        assert!(err.to_string().contains("table number 0"), "{err}");
    }

    #[test]
    fn rejects_non_canonical_varints() {
        // Table 1 written as two varint bytes (0x81 0x00).
        let mut bytes = vec![0x81, 0x00];
        bytes.extend_from_slice(&[7; 16]);
        let checksum = fletcher16(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        let err = DocumentId::decode(&base32_encode(&bytes)).expect_err("non-canonical");
        assert!(err.to_string().contains("non-canonical"), "{err}");
    }

    #[test]
    fn time_ordered_ids() {
        let mut rng = StdRng::seed_from_u64(7);
        let earlier = InternalId::new_time_ordered(1_700_000_000_000, &mut rng);
        let later = InternalId::new_time_ordered(1_700_000_000_001, &mut rng);
        assert!(earlier < later);
        assert_eq!(earlier.unix_millis(), 1_700_000_000_000);
        assert_eq!(earlier.0[6] >> 4, 7, "UUIDv7 version");
        assert_eq!(earlier.0[8] >> 6, 0b10, "RFC 9562 variant");
        let same_ms = InternalId::new_time_ordered(1_700_000_000_000, &mut rng);
        assert_ne!(earlier, same_ms);
    }

    #[test]
    fn typed_ids() {
        let raw = DocumentId::decode(REAL_ID).expect("valid");
        let id: Id<Messages> = Id::new(raw);
        assert_eq!(id.document_id(), raw);
        assert_eq!(id.to_string(), REAL_ID);
        assert_eq!(format!("{id:?}"), format!("Id({REAL_ID:?})"));
        assert_eq!(REAL_ID.parse::<Id<Messages>>(), Ok(id));
        let cast: Id<Users> = id.cast();
        assert_eq!(cast.document_id(), raw);
        let copy = id;
        assert_eq!(copy, id);
        assert_eq!(Value::from(id), Value::from(REAL_ID));
        assert_eq!(
            serde_json::to_value(id).expect("serializes"),
            serde_json::json!(REAL_ID)
        );
        let back: Id<Messages> =
            serde_json::from_value(serde_json::json!(REAL_ID)).expect("deserializes");
        assert_eq!(back, id);
        let err = serde_json::from_value::<Id<Messages>>(serde_json::json!("nope"))
            .expect_err("malformed");
        assert!(err.to_string().contains("invalid document id"), "{err}");
    }

    #[test]
    fn id_json_schema() {
        let schema = schemars::schema_for!(Id<Messages>);
        let json = serde_json::to_value(&schema).expect("serializes");
        assert_eq!(json["type"], "string");
        assert_eq!(json["x-convex-id"], "messages");
        assert_eq!(<Id<Messages> as JsonSchema>::schema_name(), "Id_messages");
        assert!(<Id<Users> as JsonSchema>::inline_schema());
    }

    proptest! {
        #[test]
        fn id_round_trip(table in 1..=u32::MAX, internal in any::<[u8; 16]>()) {
            let id = DocumentId::new(TableNumber(table), InternalId(internal));
            let encoded = id.encode();
            prop_assert!((31..=37).contains(&encoded.len()));
            prop_assert_eq!(DocumentId::decode(&encoded), Ok(id));
        }

        #[test]
        fn decode_never_panics(s in "[0-9a-z]{0,40}|\\PC{0,40}") {
            let _ = DocumentId::decode(&s);
        }

        #[test]
        fn time_and_random_round_trip(millis in 0..(1_u64 << 48), random in any::<[u8; 10]>()) {
            prop_assert_eq!(InternalId::from_time_and_random(millis, random).unix_millis(), millis);
        }
    }
}
