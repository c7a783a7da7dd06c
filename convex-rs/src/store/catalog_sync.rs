//! Bringing the stored catalog in line with the schema, the same on every
//! database: new tables get numbers, new or changed indexes get ids and are
//! backfilled from the revision log, dropped indexes lose their entries.
//! Each persistence answers the few questions it asks through [`CatalogTx`],
//! inside one transaction.

use std::collections::HashMap;

use async_trait::async_trait;

use super::catalog::{creation_time_index_fields, is_implicit_index};
use super::index_key::index_key;
use super::{Catalog, Document, IndexId, IndexMeta, StoreError, TableMeta};
use crate::schema::{BY_CREATION_TIME, BY_ID, Schema};
use crate::value::{DocumentId, InternalId, TableNumber};

/// First number given to a user table, so ids look like Convex's (which
/// reserves lower numbers for system tables).
const FIRST_TABLE_NUMBER: u32 = 10_001;

/// Stored description of one index.
pub(super) struct StoredIndex {
    pub(super) id: u32,
    pub(super) table: u32,
    pub(super) name: String,
    pub(super) fields: Vec<String>,
}

/// One stored revision, as a backfill reads it.
pub(super) struct StoredRevision {
    pub(super) id: Vec<u8>,
    pub(super) ts: i64,
    /// The encoded body; `None` for a deletion.
    pub(super) value: Option<Vec<u8>>,
}

/// One index entry version to insert.
pub(super) struct IndexRow {
    pub(super) index: i64,
    pub(super) key: Vec<u8>,
    pub(super) ts: i64,
    pub(super) deleted: bool,
    pub(super) doc: Vec<u8>,
}

/// The catalog operations of one database transaction.
#[async_trait]
pub(super) trait CatalogTx: Send {
    /// The newest persisted commit timestamp.
    async fn max_ts(&mut self) -> Result<Option<i64>, StoreError>;
    /// Every table: `(name, number)`.
    async fn tables(&mut self) -> Result<Vec<(String, u32)>, StoreError>;
    /// Every index.
    async fn indexes(&mut self) -> Result<Vec<StoredIndex>, StoreError>;
    /// Records a new table.
    async fn insert_table(&mut self, number: u32, name: &str) -> Result<(), StoreError>;
    /// Records a new index.
    async fn insert_index(&mut self, index: &StoredIndex) -> Result<(), StoreError>;
    /// Changes an index's fields (its entries were removed).
    async fn set_index_fields(&mut self, id: u32, fields: &str) -> Result<(), StoreError>;
    /// Removes every entry of an index.
    async fn delete_index_entries(&mut self, id: u32) -> Result<(), StoreError>;
    /// Removes an index's definition.
    async fn delete_index(&mut self, id: u32) -> Result<(), StoreError>;
    /// Every revision of every document of `table`, by id then timestamp.
    async fn revisions_of(&mut self, table: u32) -> Result<Vec<StoredRevision>, StoreError>;
    /// Inserts (or replaces) index entry versions.
    async fn insert_index_rows(&mut self, rows: &[IndexRow]) -> Result<(), StoreError>;
}

/// A stored document from its id bytes and encoded body.
pub(super) fn decode_document(
    table: TableNumber,
    id: &[u8],
    value: &[u8],
) -> Result<Document, StoreError> {
    let internal = <[u8; 16]>::try_from(id)
        .map(InternalId)
        .map_err(|_| StoreError::Corrupt(format!("document id of {} bytes", id.len())))?;
    Document::decode_body(DocumentId { table, internal }, value)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The stored form of an index's fields (a JSON array of strings).
pub(super) fn index_fields_json(fields: &[String]) -> String {
    serde_json::to_string(fields).unwrap_or_default()
}

/// A commit timestamp as the databases store it (a signed 64-bit column).
pub(super) fn ts_i64(ts: u64) -> i64 {
    i64::try_from(ts).unwrap_or(i64::MAX)
}

/// A stored commit timestamp.
pub(super) fn ts_u64(ts: i64) -> u64 {
    u64::try_from(ts).unwrap_or(0)
}

/// A stored table number.
pub(super) fn table_number(n: i64) -> Result<TableNumber, StoreError> {
    u32::try_from(n)
        .map(TableNumber)
        .map_err(|_| StoreError::Corrupt(format!("table number {n}")))
}

impl StoredIndex {
    /// An index from its stored columns: id, table number, name, fields (JSON).
    pub(super) fn from_columns(
        id: i64,
        table: i64,
        name: String,
        fields: &str,
    ) -> Result<StoredIndex, StoreError> {
        Ok(StoredIndex {
            id: u32::try_from(id).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            table: table_number(table)?.0,
            name,
            fields: serde_json::from_str(fields).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }
}

/// Reconciles the stored catalog with `schema`; returns it with the newest
/// persisted commit timestamp.
/// A [`CatalogTx`] that answers the catalog questions and refuses every
/// change: how a read-only open (an export next to a running server) gets
/// the catalog without writing. A database whose catalog the schema would
/// change is refused with what would change.
pub(super) struct ReadOnlyCatalog<'a>(pub(super) &'a mut dyn CatalogTx);

impl ReadOnlyCatalog<'_> {
    fn refuse(what: String) -> StoreError {
        StoreError::Catalog(format!(
            "the database does not match the app's schema ({what}); it is open read-only, so \
             run `serve` once with this build of the app to migrate it, then try again"
        ))
    }
}

#[async_trait]
impl CatalogTx for ReadOnlyCatalog<'_> {
    async fn max_ts(&mut self) -> Result<Option<i64>, StoreError> {
        self.0.max_ts().await
    }
    async fn tables(&mut self) -> Result<Vec<(String, u32)>, StoreError> {
        self.0.tables().await
    }
    async fn indexes(&mut self) -> Result<Vec<StoredIndex>, StoreError> {
        self.0.indexes().await
    }
    async fn insert_table(&mut self, _number: u32, name: &str) -> Result<(), StoreError> {
        Err(Self::refuse(format!("table {name} is new")))
    }
    async fn insert_index(&mut self, index: &StoredIndex) -> Result<(), StoreError> {
        Err(Self::refuse(format!("index {} is new", index.name)))
    }
    async fn set_index_fields(&mut self, id: u32, _fields: &str) -> Result<(), StoreError> {
        Err(Self::refuse(format!("the fields of index #{id} changed")))
    }
    async fn delete_index_entries(&mut self, id: u32) -> Result<(), StoreError> {
        Err(Self::refuse(format!("index #{id} changed or was removed")))
    }
    async fn delete_index(&mut self, id: u32) -> Result<(), StoreError> {
        Err(Self::refuse(format!("index #{id} was removed")))
    }
    async fn revisions_of(&mut self, table: u32) -> Result<Vec<StoredRevision>, StoreError> {
        self.0.revisions_of(table).await
    }
    async fn insert_index_rows(&mut self, _rows: &[IndexRow]) -> Result<(), StoreError> {
        Err(Self::refuse("an index needs a backfill".to_string()))
    }
}

pub(super) async fn sync_catalog(
    tx: &mut dyn CatalogTx,
    schema: &Schema,
) -> Result<(Catalog, u64), StoreError> {
    let max_ts = tx.max_ts().await?;
    let table_numbers: HashMap<String, u32> = tx.tables().await?.into_iter().collect();
    let stored = tx.indexes().await?;
    let mut next_table = table_numbers
        .values()
        .copied()
        .max()
        .map_or(FIRST_TABLE_NUMBER, |n| n + 1);
    let mut next_index = stored.iter().map(|i| i.id).max().map_or(1, |n| n + 1);

    let mut tables = Vec::new();
    let mut indexes = Vec::new();
    for def in &schema.tables {
        let number = match table_numbers.get(&def.name) {
            Some(n) => *n,
            None => {
                let n = next_table;
                next_table += 1;
                tx.insert_table(n, &def.name).await?;
                n
            }
        };
        let mut wanted: Vec<(String, Vec<String>)> = vec![
            (BY_ID.to_string(), Vec::new()),
            (BY_CREATION_TIME.to_string(), creation_time_index_fields()),
        ];
        wanted.extend(
            def.indexes
                .iter()
                .map(|i| (i.name.clone(), i.fields.clone())),
        );
        let mut table_indexes = Vec::new();
        for (name, fields) in wanted {
            let existing = stored.iter().find(|s| s.table == number && s.name == name);
            let (id, backfill) = match existing {
                Some(s) if s.fields == fields => (s.id, false),
                Some(s) => {
                    tx.delete_index_entries(s.id).await?;
                    tx.set_index_fields(s.id, &index_fields_json(&fields))
                        .await?;
                    (s.id, true)
                }
                None => {
                    let id = next_index;
                    next_index += 1;
                    tx.insert_index(&StoredIndex {
                        id,
                        table: number,
                        name: name.clone(),
                        fields: fields.clone(),
                    })
                    .await?;
                    (id, true)
                }
            };
            let meta = IndexMeta {
                id: IndexId(id),
                table: TableNumber(number),
                name,
                fields,
            };
            if backfill && !meta.is_by_id() {
                backfill_index(tx, &meta).await?;
            }
            table_indexes.push(meta);
        }
        // Indexes dropped from the schema: remove their entries and definitions.
        for old in stored.iter().filter(|s| s.table == number) {
            if !is_implicit_index(&old.name) && !def.indexes.iter().any(|i| i.name == old.name) {
                tx.delete_index_entries(old.id).await?;
                tx.delete_index(old.id).await?;
            }
        }
        let find = |name: &str| table_indexes.iter().find(|i| i.name == name).map(|i| i.id);
        let (Some(by_id), Some(by_creation_time)) = (find(BY_ID), find(BY_CREATION_TIME)) else {
            return Err(StoreError::Catalog(format!(
                "implicit indexes missing for table {}",
                def.name
            )));
        };
        tables.push(TableMeta {
            number: TableNumber(number),
            name: def.name.clone(),
            definition: def.clone(),
            by_id,
            by_creation_time,
            indexes: table_indexes
                .iter()
                .filter(|i| !i.is_by_id())
                .map(|i| i.id)
                .collect(),
            search_indexes: Vec::new(),
            vector_indexes: Vec::new(),
        });
        indexes.extend(table_indexes);
    }
    let max_ts = max_ts.map_or(0, |ts| u64::try_from(ts).unwrap_or(0));
    Ok((Catalog::new(tables, indexes), max_ts))
}

/// Writes the index entries of every revision of every document of the
/// index's table, as if the index had always existed.
async fn backfill_index(tx: &mut dyn CatalogTx, index: &IndexMeta) -> Result<(), StoreError> {
    let revisions = tx.revisions_of(index.table.0).await?;
    let mut out = Vec::new();
    let mut current: Option<(Vec<u8>, Option<Vec<u8>>)> = None; // (doc id, live key)
    for revision in revisions {
        if current.as_ref().is_none_or(|(cur, _)| *cur != revision.id) {
            current = Some((revision.id.clone(), None));
        }
        let new_key = match &revision.value {
            None => None,
            Some(value) => Some(index_key(
                index,
                &decode_document(index.table, &revision.id, value)?,
            )),
        };
        let Some((_, live)) = current.as_mut() else {
            continue;
        };
        if *live == new_key {
            continue;
        }
        if let Some(old) = live.take() {
            out.push(IndexRow {
                index: i64::from(index.id.0),
                key: old,
                ts: revision.ts,
                deleted: true,
                doc: revision.id.clone(),
            });
        }
        if let Some(key) = &new_key {
            out.push(IndexRow {
                index: i64::from(index.id.0),
                key: key.clone(),
                ts: revision.ts,
                deleted: false,
                doc: revision.id.clone(),
            });
        }
        *live = new_key;
    }
    tx.insert_index_rows(&out).await
}
