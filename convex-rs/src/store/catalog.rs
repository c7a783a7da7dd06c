use std::collections::HashMap;

use crate::schema::{BY_CREATION_TIME, BY_ID, TableDefinition};
use crate::value::TableNumber;

/// Identifies an index (including the implicit `by_id` and `by_creation_time`) in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexId(pub u32);

/// An index as the store sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexMeta {
    /// Its id.
    pub id: IndexId,
    /// The table it belongs to.
    pub table: TableNumber,
    /// Its name within the table.
    pub name: String,
    /// The indexed fields; empty for `by_id`, `["_creationTime"]` for `by_creation_time`.
    pub fields: Vec<String>,
}

impl IndexMeta {
    /// Whether this is the implicit `by_id` index, which is served from the
    /// document log itself and has no index entries.
    pub fn is_by_id(&self) -> bool {
        self.name == BY_ID
    }
}

/// A table as the store sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TableMeta {
    /// Its number (encoded in every id of the table).
    pub number: TableNumber,
    /// Its name.
    pub name: String,
    /// The schema definition (validator, declared indexes).
    pub definition: TableDefinition,
    /// The implicit `by_id` index.
    pub by_id: IndexId,
    /// The implicit `by_creation_time` index.
    pub by_creation_time: IndexId,
    /// Every index of the table that has entries (all but `by_id`).
    pub indexes: Vec<IndexId>,
}

/// The tables and indexes of an open store, fixed while it runs.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    tables: Vec<TableMeta>,
    by_name: HashMap<String, usize>,
    by_number: HashMap<TableNumber, usize>,
    indexes: HashMap<IndexId, IndexMeta>,
}

impl Catalog {
    /// Builds a catalog from tables and indexes.
    pub fn new(tables: Vec<TableMeta>, indexes: Vec<IndexMeta>) -> Self {
        let by_name = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let by_number = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.number, i))
            .collect();
        let indexes = indexes.into_iter().map(|i| (i.id, i)).collect();
        Catalog {
            tables,
            by_name,
            by_number,
            indexes,
        }
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&TableMeta> {
        self.by_name.get(name).map(|&i| &self.tables[i])
    }

    /// A table by number.
    pub fn table_by_number(&self, number: TableNumber) -> Option<&TableMeta> {
        self.by_number.get(&number).map(|&i| &self.tables[i])
    }

    /// The name of the table with this number.
    pub fn table_name(&self, number: TableNumber) -> Option<&str> {
        self.table_by_number(number).map(|t| t.name.as_str())
    }

    /// All tables.
    pub fn tables(&self) -> &[TableMeta] {
        &self.tables
    }

    /// An index by id.
    pub fn index(&self, id: IndexId) -> Option<&IndexMeta> {
        self.indexes.get(&id)
    }

    /// An index of `table` by name (including `by_id` and `by_creation_time`).
    pub fn index_by_name(&self, table: &TableMeta, name: &str) -> Option<&IndexMeta> {
        if name == BY_ID {
            return self.index(table.by_id);
        }
        table
            .indexes
            .iter()
            .filter_map(|id| self.index(*id))
            .find(|i| i.name == name)
    }

    /// The name of the table an index belongs to (for error messages).
    pub fn table_name_of_index(&self, id: IndexId) -> &str {
        self.index(id)
            .and_then(|i| self.table_name(i.table))
            .unwrap_or("<unknown>")
    }
}

impl crate::schema::TableNames for Catalog {
    fn table_name(&self, number: TableNumber) -> Option<&str> {
        Catalog::table_name(self, number)
    }
}

/// The index named `by_creation_time` and its single field.
pub(crate) fn creation_time_index_fields() -> Vec<String> {
    vec!["_creationTime".to_string()]
}

/// Name check used by the persistence layer when it builds the catalog.
pub(crate) fn is_implicit_index(name: &str) -> bool {
    name == BY_ID || name == BY_CREATION_TIME
}
