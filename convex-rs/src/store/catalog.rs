use std::collections::HashMap;

use crate::schema::{
    BY_CREATION_TIME, BY_ID, SearchIndexDefinition, TableDefinition, VectorIndexDefinition,
};
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

/// A full-text search index as the store sees it. Its id shares the space of
/// [`IndexId`]s, so read sets and commits name its terms like index keys.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchIndexMeta {
    /// Its id (assigned when the store opens; not persisted).
    pub id: IndexId,
    /// The table it belongs to.
    pub table: TableNumber,
    /// The table's name.
    pub table_name: String,
    /// Its name within the table.
    pub name: String,
    /// The searched field.
    pub search_field: String,
    /// The filter fields, in declared order.
    pub filter_fields: Vec<String>,
}

impl SearchIndexMeta {
    /// The position of `field` among the filter fields.
    pub fn filter_position(&self, field: &str) -> Option<usize> {
        self.filter_fields.iter().position(|f| f == field)
    }
}

/// A vector index as the store sees it. Its id shares the space of
/// [`IndexId`]s, like a search index's.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorIndexMeta {
    /// Its id (assigned when the store opens; not persisted).
    pub id: IndexId,
    /// The table it belongs to.
    pub table: TableNumber,
    /// The table's name.
    pub table_name: String,
    /// Its name within the table.
    pub name: String,
    /// The vector field.
    pub vector_field: String,
    /// The length of every vector.
    pub dimensions: usize,
    /// The filter fields, in declared order.
    pub filter_fields: Vec<String>,
}

impl VectorIndexMeta {
    /// The position of `field` among the filter fields.
    pub fn filter_position(&self, field: &str) -> Option<usize> {
        self.filter_fields.iter().position(|f| f == field)
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
    /// The table's full-text search indexes.
    pub search_indexes: Vec<IndexId>,
    /// The table's vector indexes.
    pub vector_indexes: Vec<IndexId>,
}

/// The tables and indexes of an open store, fixed while it runs.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    tables: Vec<TableMeta>,
    by_name: HashMap<String, usize>,
    by_number: HashMap<TableNumber, usize>,
    indexes: HashMap<IndexId, IndexMeta>,
    search_indexes: HashMap<IndexId, SearchIndexMeta>,
    vector_indexes: HashMap<IndexId, VectorIndexMeta>,
}

impl Catalog {
    /// Builds a catalog from tables and indexes.
    /// Search indexes get ids above every index id, from their tables' definitions.
    pub fn new(mut tables: Vec<TableMeta>, indexes: Vec<IndexMeta>) -> Self {
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
        let mut next_id = indexes.iter().map(|i| i.id.0).max().unwrap_or(0) + 1;
        let indexes = indexes.into_iter().map(|i| (i.id, i)).collect();
        let mut search_indexes = HashMap::new();
        for table in &mut tables {
            for def in &table.definition.search_indexes {
                let id = IndexId(next_id);
                next_id += 1;
                table.search_indexes.push(id);
                search_indexes.insert(id, search_meta(id, table, def));
            }
        }
        let mut vector_indexes = HashMap::new();
        for table in &mut tables {
            for def in &table.definition.vector_indexes {
                let id = IndexId(next_id);
                next_id += 1;
                table.vector_indexes.push(id);
                vector_indexes.insert(id, vector_meta(id, table, def));
            }
        }
        Catalog {
            tables,
            by_name,
            by_number,
            indexes,
            search_indexes,
            vector_indexes,
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

    /// A search index by id.
    pub fn search_index(&self, id: IndexId) -> Option<&SearchIndexMeta> {
        self.search_indexes.get(&id)
    }

    /// A search index of `table` by name.
    pub fn search_index_by_name(&self, table: &TableMeta, name: &str) -> Option<&SearchIndexMeta> {
        table
            .search_indexes
            .iter()
            .filter_map(|id| self.search_index(*id))
            .find(|i| i.name == name)
    }

    /// Every search index.
    pub fn search_indexes(&self) -> impl Iterator<Item = &SearchIndexMeta> {
        self.search_indexes.values()
    }

    /// A vector index by id.
    pub fn vector_index(&self, id: IndexId) -> Option<&VectorIndexMeta> {
        self.vector_indexes.get(&id)
    }

    /// A vector index of `table` by name.
    pub fn vector_index_by_name(&self, table: &TableMeta, name: &str) -> Option<&VectorIndexMeta> {
        table
            .vector_indexes
            .iter()
            .filter_map(|id| self.vector_index(*id))
            .find(|i| i.name == name)
    }

    /// Every vector index.
    pub fn vector_indexes(&self) -> impl Iterator<Item = &VectorIndexMeta> {
        self.vector_indexes.values()
    }

    /// The name of the table an index (of any kind) belongs to (for error messages).
    pub fn table_name_of_index(&self, id: IndexId) -> &str {
        let table = match self.index(id) {
            Some(i) => Some(i.table),
            None => self
                .search_index(id)
                .map(|i| i.table)
                .or_else(|| self.vector_index(id).map(|i| i.table)),
        };
        table
            .and_then(|t| self.table_name(t))
            .unwrap_or("<unknown>")
    }
}

impl crate::schema::TableNames for Catalog {
    fn table_name(&self, number: TableNumber) -> Option<&str> {
        Catalog::table_name(self, number)
    }
}

fn search_meta(id: IndexId, table: &TableMeta, def: &SearchIndexDefinition) -> SearchIndexMeta {
    SearchIndexMeta {
        id,
        table: table.number,
        table_name: table.name.clone(),
        name: def.name.clone(),
        search_field: def.search_field.clone(),
        filter_fields: def.filter_fields.clone(),
    }
}

fn vector_meta(id: IndexId, table: &TableMeta, def: &VectorIndexDefinition) -> VectorIndexMeta {
    VectorIndexMeta {
        id,
        table: table.number,
        table_name: table.name.clone(),
        name: def.name.clone(),
        vector_field: def.vector_field.clone(),
        dimensions: def.dimensions,
        filter_fields: def.filter_fields.clone(),
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
