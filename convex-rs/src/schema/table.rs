use std::collections::BTreeSet;

use schemars::JsonSchema;

use super::search::{
    MAX_SEARCH_FILTER_FIELDS, MAX_VECTOR_DIMENSIONS, MIN_VECTOR_DIMENSIONS, SearchIndex,
    SearchIndexDefinition, VectorIndex, VectorIndexDefinition,
};
use super::{SchemaError, Validator, validator_from_json_schema};
use crate::value::{TableType, check_identifier};

/// The implicit index on `_id` that every table has.
pub const BY_ID: &str = "by_id";
/// The implicit index on `_creationTime` that every table has.
pub const BY_CREATION_TIME: &str = "by_creation_time";
/// Tables the backend itself creates; user tables may not start with `_`.
pub const MUTATION_LOG_TABLE: &str = "_mutation_log";
/// Every system table.
pub const SYSTEM_TABLES: [&str; 5] = [
    MUTATION_LOG_TABLE,
    crate::scheduler::SCHEDULED_FUNCTIONS_TABLE,
    crate::scheduler::CRON_JOBS_TABLE,
    crate::storage::STORAGE_TABLE,
    crate::storage::UPLOADS_TABLE,
];

/// The most fields a compound index may have.
pub const MAX_INDEX_FIELDS: usize = 16;

/// An index declared on a table: a name and the fields it orders by.
///
/// Documents are ordered by the listed fields, then by `_creationTime` and `_id`
/// (so every index key is unique).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexDefinition {
    /// The index name, unique within the table.
    pub name: String,
    /// The indexed fields (dotted paths for nested fields), in order.
    pub fields: Vec<String>,
}

/// A table: its name, optional document validator, and indexes.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDefinition {
    /// The table's name.
    pub name: String,
    /// What documents must look like; `None` accepts any valid document.
    pub document: Option<Validator>,
    /// Declared indexes (the implicit ones are not listed).
    pub indexes: Vec<IndexDefinition>,
    /// Declared full-text search indexes.
    pub search_indexes: Vec<SearchIndexDefinition>,
    /// Declared vector indexes.
    pub vector_indexes: Vec<VectorIndexDefinition>,
}

impl TableDefinition {
    /// A table without a document validator: any valid document is accepted.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            document: None,
            indexes: Vec::new(),
            search_indexes: Vec::new(),
            vector_indexes: Vec::new(),
        }
    }

    /// A table whose documents are `T`, validated by the validator derived from
    /// `T`'s JSON schema (`Id<U>` fields become id validators, `i64` becomes
    /// int64, other numbers float64, `Option<T>` an optional nullable field).
    pub fn of<T: TableType + JsonSchema>() -> Self {
        let schema = crate::__private::schema_for::<T>();
        Self::new(T::TABLE_NAME).validator(validator_from_json_schema(schema.as_value()))
    }

    /// Sets the document validator.
    pub fn validator(mut self, validator: Validator) -> Self {
        self.document = Some(validator);
        self
    }

    /// Declares an index over `fields`, in order.
    pub fn index(mut self, name: impl Into<String>, fields: &[&str]) -> Self {
        self.indexes.push(IndexDefinition {
            name: name.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        });
        self
    }

    /// Declares a full-text search index.
    pub fn search_index(mut self, name: impl Into<String>, index: SearchIndex) -> Self {
        self.search_indexes.push(SearchIndexDefinition {
            name: name.into(),
            search_field: index.search_field,
            filter_fields: index.filter_fields,
        });
        self
    }

    /// Declares a vector index.
    pub fn vector_index(mut self, name: impl Into<String>, index: VectorIndex) -> Self {
        self.vector_indexes.push(VectorIndexDefinition {
            name: name.into(),
            vector_field: index.vector_field,
            dimensions: index.dimensions,
            filter_fields: index.filter_fields,
        });
        self
    }

    fn check(&self) -> Result<(), SchemaError> {
        check_identifier(&self.name).map_err(|e| SchemaError::InvalidName {
            name: self.name.clone(),
            reason: e.to_string(),
        })?;
        if self.name.starts_with('_') && !SYSTEM_TABLES.contains(&self.name.as_str()) {
            return Err(SchemaError::InvalidName {
                name: self.name.clone(),
                reason: "table names starting with '_' are reserved for system tables".into(),
            });
        }
        if let Some(document) = &self.document {
            let Some(object) = document.as_object() else {
                if !matches!(document, Validator::Any | Validator::Union(_)) {
                    return Err(SchemaError::NotAnObject {
                        table: self.name.clone(),
                        found: document.to_string(),
                    });
                }
                return self.check_indexes();
            };
            if let Some(field) = object.fields.keys().find(|f| f.starts_with('_')) {
                return Err(SchemaError::ReservedField {
                    table: self.name.clone(),
                    field: field.clone(),
                });
            }
        }
        self.check_indexes()
    }

    fn check_index_name<'a>(
        &self,
        names: &mut BTreeSet<&'a str>,
        name: &'a str,
    ) -> Result<(), SchemaError> {
        check_identifier(name).map_err(|e| SchemaError::InvalidName {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        if name == BY_ID || name == BY_CREATION_TIME || name.starts_with('_') {
            return Err(SchemaError::ReservedIndexName {
                table: self.name.clone(),
                index: name.to_string(),
            });
        }
        if !names.insert(name) {
            return Err(SchemaError::DuplicateIndex {
                table: self.name.clone(),
                index: name.to_string(),
            });
        }
        Ok(())
    }

    fn check_field(&self, index: &str, field: &str) -> Result<(), SchemaError> {
        let system = field == "_creationTime" || field == "_id";
        if system || self.document.as_ref().is_none_or(|d| d.has_path(field)) {
            Ok(())
        } else {
            Err(SchemaError::UnknownIndexField {
                table: self.name.clone(),
                index: index.to_string(),
                field: field.to_string(),
            })
        }
    }

    fn check_filter_fields(&self, index: &str, fields: &[String]) -> Result<(), SchemaError> {
        if fields.len() > MAX_SEARCH_FILTER_FIELDS {
            return Err(SchemaError::SearchFilterFieldCount {
                table: self.name.clone(),
                index: index.to_string(),
                count: fields.len(),
                max: MAX_SEARCH_FILTER_FIELDS,
            });
        }
        let mut seen = BTreeSet::new();
        for field in fields {
            if !seen.insert(field.as_str()) {
                return Err(SchemaError::DuplicateIndexField {
                    table: self.name.clone(),
                    index: index.to_string(),
                    field: field.clone(),
                });
            }
            self.check_field(index, field)?;
        }
        Ok(())
    }

    fn check_search_indexes<'a>(
        &'a self,
        names: &mut BTreeSet<&'a str>,
    ) -> Result<(), SchemaError> {
        for index in &self.search_indexes {
            self.check_index_name(names, &index.name)?;
            self.check_field(&index.name, &index.search_field)?;
            self.check_filter_fields(&index.name, &index.filter_fields)?;
        }
        for index in &self.vector_indexes {
            self.check_index_name(names, &index.name)?;
            self.check_field(&index.name, &index.vector_field)?;
            if !(MIN_VECTOR_DIMENSIONS..=MAX_VECTOR_DIMENSIONS).contains(&index.dimensions) {
                return Err(SchemaError::VectorDimensions {
                    table: self.name.clone(),
                    index: index.name.clone(),
                    dimensions: index.dimensions,
                });
            }
            self.check_filter_fields(&index.name, &index.filter_fields)?;
        }
        Ok(())
    }

    fn check_indexes(&self) -> Result<(), SchemaError> {
        let mut names = BTreeSet::new();
        for index in &self.indexes {
            self.check_index_name(&mut names, &index.name)?;
            if index.fields.is_empty() || index.fields.len() > MAX_INDEX_FIELDS {
                return Err(SchemaError::IndexFieldCount {
                    table: self.name.clone(),
                    index: index.name.clone(),
                    count: index.fields.len(),
                    max: MAX_INDEX_FIELDS,
                });
            }
            let mut seen = BTreeSet::new();
            for field in &index.fields {
                if !seen.insert(field.as_str()) {
                    return Err(SchemaError::DuplicateIndexField {
                        table: self.name.clone(),
                        index: index.name.clone(),
                        field: field.clone(),
                    });
                }
                self.check_field(&index.name, field)?;
            }
        }
        self.check_search_indexes(&mut names)
    }
}

/// The app's tables.
///
/// ```
/// use convex_rs::schema::{v, Schema, TableDefinition};
/// let schema = Schema::new()
///     .table(TableDefinition::new("users")
///         .validator(v::object([("name", v::string()), ("tokenIdentifier", v::string())]))
///         .index("by_token", &["tokenIdentifier"]))
///     .table(TableDefinition::new("logs")); // no validator: any document
/// assert!(schema.check().is_ok());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    /// The declared tables.
    pub tables: Vec<TableDefinition>,
}

impl Schema {
    /// An empty schema.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a table.
    pub fn table(mut self, table: TableDefinition) -> Self {
        self.tables.push(table);
        self
    }

    /// This schema plus the system tables the backend needs: the mutation log
    /// that makes re-sent mutations run exactly once, and the scheduler's
    /// `_scheduled_functions` and `_cron_jobs`.
    pub fn with_system_tables(mut self) -> Self {
        let system = [
            TableDefinition::new(MUTATION_LOG_TABLE).index("by_request", &["session", "request"])
        ]
        .into_iter()
        .chain(crate::scheduler::system_tables())
        .chain(crate::storage::system_tables());
        for table in system {
            if self.get(&table.name).is_none() {
                self.tables.push(table);
            }
        }
        self
    }

    /// Looks up a table by name.
    pub fn get(&self, name: &str) -> Option<&TableDefinition> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Checks names, index definitions and validators; the backend refuses to
    /// start with a schema that fails this.
    pub fn check(&self) -> Result<(), SchemaError> {
        let mut names = BTreeSet::new();
        for table in &self.tables {
            if !names.insert(table.name.as_str()) {
                return Err(SchemaError::DuplicateTable(table.name.clone()));
            }
            table.check()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::v;

    #[test]
    fn rejects_bad_indexes() {
        let base = || TableDefinition::new("t").validator(v::object([("a", v::string())]));
        let check = |t: TableDefinition| Schema::new().table(t).check();
        assert!(check(base().index("by_a", &["a"])).is_ok());
        assert!(matches!(
            check(base().index("by_b", &["b"])),
            Err(SchemaError::UnknownIndexField { .. })
        ));
        assert!(matches!(
            check(base().index("by_id", &["a"])),
            Err(SchemaError::ReservedIndexName { .. })
        ));
        assert!(matches!(
            check(base().index("x", &["a"]).index("x", &["a"])),
            Err(SchemaError::DuplicateIndex { .. })
        ));
        assert!(matches!(
            check(base().index("x", &[])),
            Err(SchemaError::IndexFieldCount { .. })
        ));
        let many: Vec<String> = (0..17).map(|i| format!("f{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(matches!(
            check(TableDefinition::new("t").index("x", &refs)),
            Err(SchemaError::IndexFieldCount { count: 17, .. })
        ));
        assert!(matches!(
            check(base().index("x", &["a", "a"])),
            Err(SchemaError::DuplicateIndexField { .. })
        ));
        assert!(check(base().index("x", &["a", "_creationTime"])).is_ok());
    }

    #[test]
    fn rejects_bad_tables() {
        assert!(matches!(
            Schema::new()
                .table(TableDefinition::new("t"))
                .table(TableDefinition::new("t"))
                .check(),
            Err(SchemaError::DuplicateTable(_))
        ));
        assert!(matches!(
            Schema::new()
                .table(TableDefinition::new("bad name"))
                .check(),
            Err(SchemaError::InvalidName { .. })
        ));
        assert!(matches!(
            Schema::new()
                .table(TableDefinition::new("t").validator(v::string()))
                .check(),
            Err(SchemaError::NotAnObject { .. })
        ));
        assert!(matches!(
            Schema::new()
                .table(TableDefinition::new("t").validator(v::object([("_x", v::string())])))
                .check(),
            Err(SchemaError::ReservedField { .. })
        ));
    }

    #[test]
    fn rejects_bad_search_indexes() {
        let base = || {
            TableDefinition::new("t").validator(v::object([("a", v::string()), ("b", v::string())]))
        };
        let check = |t: TableDefinition| Schema::new().table(t).check();
        assert!(
            check(base().search_index("s", SearchIndex::new("a").filter_fields(&["b"]))).is_ok()
        );
        assert!(matches!(
            check(base().search_index("s", SearchIndex::new("c"))),
            Err(SchemaError::UnknownIndexField { .. })
        ));
        assert!(matches!(
            check(
                base()
                    .index("s", &["a"])
                    .search_index("s", SearchIndex::new("a"))
            ),
            Err(SchemaError::DuplicateIndex { .. })
        ));
        assert!(matches!(
            check(base().search_index("by_id", SearchIndex::new("a"))),
            Err(SchemaError::ReservedIndexName { .. })
        ));
        let many: Vec<String> = (0..17).map(|i| format!("f{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(matches!(
            check(
                TableDefinition::new("t")
                    .search_index("s", SearchIndex::new("a").filter_fields(&refs))
            ),
            Err(SchemaError::SearchFilterFieldCount { count: 17, .. })
        ));
        assert!(matches!(
            check(base().search_index("s", SearchIndex::new("a").filter_fields(&["b", "b"]))),
            Err(SchemaError::DuplicateIndexField { .. })
        ));
    }

    #[test]
    fn untyped_tables_accept_any_index_field() {
        assert!(
            Schema::new()
                .table(TableDefinition::new("t").index("by_x", &["x.y"]))
                .check()
                .is_ok()
        );
    }
}
