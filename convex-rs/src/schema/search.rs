//! The definitions of the two kinds of search index: full-text
//! ([`SearchIndex`]) and vector ([`VectorIndex`]).

/// The most filter fields a search or vector index may have.
pub const MAX_SEARCH_FILTER_FIELDS: usize = 16;

/// The fewest dimensions a vector index may have.
pub const MIN_VECTOR_DIMENSIONS: usize = 2;
/// The most dimensions a vector index may have.
pub const MAX_VECTOR_DIMENSIONS: usize = 4096;

/// A full-text search index: one string field whose words are searched, and
/// fields a search may filter on by equality.
///
/// ```
/// use convex_rs::schema::{SearchIndex, TableDefinition};
/// let messages = TableDefinition::new("messages")
///     .search_index("search_body", SearchIndex::new("body").filter_fields(&["channel"]));
/// assert_eq!(messages.search_indexes[0].search_field, "body");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchIndex {
    /// The searched field (a dotted path); documents where it is not a string are not indexed.
    pub search_field: String,
    /// Fields a search may filter on with `eq` (dotted paths).
    pub filter_fields: Vec<String>,
}

impl SearchIndex {
    /// A search index over the string field `search_field`.
    pub fn new(search_field: impl Into<String>) -> Self {
        SearchIndex {
            search_field: search_field.into(),
            filter_fields: Vec::new(),
        }
    }

    /// Sets the fields searches may filter on (at most 16).
    pub fn filter_fields(mut self, fields: &[&str]) -> Self {
        self.filter_fields = fields.iter().map(|f| f.to_string()).collect();
        self
    }
}

/// A search index declared on a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchIndexDefinition {
    /// The index name, unique among the table's indexes.
    pub name: String,
    /// The searched field.
    pub search_field: String,
    /// The filter fields, in declared order.
    pub filter_fields: Vec<String>,
}

/// A vector index: an array-of-numbers field of a fixed length, searched by
/// cosine similarity, and fields a search may filter on by equality.
///
/// ```
/// use convex_rs::schema::{TableDefinition, VectorIndex};
/// let notes = TableDefinition::new("notes")
///     .vector_index("by_embedding", VectorIndex::new("embedding", 384).filter_fields(&["tag"]));
/// assert_eq!(notes.vector_indexes[0].dimensions, 384);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorIndex {
    /// The vector field (a dotted path): an array of exactly `dimensions`
    /// numbers; documents without it are not indexed.
    pub vector_field: String,
    /// The length of every vector, from 2 to 4096.
    pub dimensions: usize,
    /// Fields a search may filter on with `eq` (dotted paths).
    pub filter_fields: Vec<String>,
}

impl VectorIndex {
    /// A vector index over `vector_field`, whose vectors have `dimensions` numbers.
    pub fn new(vector_field: impl Into<String>, dimensions: usize) -> Self {
        VectorIndex {
            vector_field: vector_field.into(),
            dimensions,
            filter_fields: Vec::new(),
        }
    }

    /// Sets the fields searches may filter on (at most 16).
    pub fn filter_fields(mut self, fields: &[&str]) -> Self {
        self.filter_fields = fields.iter().map(|f| f.to_string()).collect();
        self
    }
}

/// A vector index declared on a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorIndexDefinition {
    /// The index name, unique among the table's indexes.
    pub name: String,
    /// The vector field.
    pub vector_field: String,
    /// The length of every vector.
    pub dimensions: usize,
    /// The filter fields, in declared order.
    pub filter_fields: Vec<String>,
}
