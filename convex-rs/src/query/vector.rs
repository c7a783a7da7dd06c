//! Vector searches: [`Query::with_vector_index`](super::Query::with_vector_index)
//! in queries and mutations (consistent with the snapshot, recorded in the
//! read set, live in subscriptions), and the [`VectorQuery`] that actions'
//! `vector_search` takes as well.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{FromDocument, QueryError};
use crate::store::text::filter_value_key;
use crate::store::vector::{
    DEFAULT_VECTOR_RESULTS, FilterClauses, MAX_VECTOR_FILTER_CLAUSES, MAX_VECTOR_RESULTS,
    VectorSearch, normalized,
};
use crate::store::{StoreError, TableMeta, Transaction, VectorIndexMeta};
use crate::value::{DocumentId, Id, InternalId, TableType, Value};

/// A vector search: the query vector, how many results, and an optional
/// filter (an OR of equalities on the index's filter fields).
///
/// ```
/// use convex_rs::query::VectorQuery;
/// let query = VectorQuery::new(vec![0.1, 0.7, 0.2])
///     .limit(5)
///     .filter(|f| f.or([f.eq("tag", "news"), f.eq("tag", "blog")]));
/// # let _ = query;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct VectorQuery {
    vector: Vec<f64>,
    limit: usize,
    filter: Option<VectorFilter>,
}

impl VectorQuery {
    /// A search for the vectors most similar to `vector` (cosine
    /// similarity); it must have the index's dimensions.
    pub fn new(vector: impl Into<Vec<f64>>) -> Self {
        VectorQuery {
            vector: vector.into(),
            limit: DEFAULT_VECTOR_RESULTS,
            filter: None,
        }
    }

    /// How many results, from 1 to [`MAX_VECTOR_RESULTS`] (default 10).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Keeps only documents passing `filter`: built from
    /// [`eq`](VectorFilterBuilder::eq) on filter fields, combined with
    /// [`or`](VectorFilterBuilder::or).
    pub fn filter(mut self, filter: impl FnOnce(&VectorFilterBuilder) -> VectorFilter) -> Self {
        self.filter = Some(filter(&VectorFilterBuilder { _private: () }));
        self
    }
}

/// Builds a vector search's filter.
#[derive(Debug)]
pub struct VectorFilterBuilder {
    _private: (),
}

impl VectorFilterBuilder {
    /// Documents whose filter field `field` equals `value`.
    pub fn eq(&self, field: &str, value: impl Into<Value>) -> VectorFilter {
        VectorFilter {
            clauses: vec![(field.to_string(), value.into())],
        }
    }

    /// Documents passing any of `filters`.
    pub fn or(&self, filters: impl IntoIterator<Item = VectorFilter>) -> VectorFilter {
        VectorFilter {
            clauses: filters.into_iter().flat_map(|f| f.clauses).collect(),
        }
    }
}

/// A vector search's filter: an OR of equalities on filter fields.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorFilter {
    clauses: Vec<(String, Value)>,
}

/// A document with its cosine similarity to a vector search's query, in
/// `[-1, 1]`. Serialized as the document's fields plus `_score`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Scored<T> {
    /// The cosine similarity to the query vector.
    #[serde(rename = "_score")]
    pub score: f64,
    /// The document.
    #[serde(flatten)]
    pub doc: T,
}

/// One result of an action's vector search: an id and its similarity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(bound = "")]
pub struct VectorResult<T: TableType> {
    /// The document's id.
    #[serde(rename = "_id")]
    pub id: Id<T>,
    /// The cosine similarity to the query vector, in `[-1, 1]`.
    #[serde(rename = "_score")]
    pub score: f64,
}

/// The checked form of a [`VectorQuery`] against one index.
pub(crate) fn plan(
    table: &TableMeta,
    index: &VectorIndexMeta,
    query: &VectorQuery,
) -> Result<VectorSearch, QueryError> {
    let invalid = |reason: String| QueryError::InvalidVectorSearch {
        table: table.name.clone(),
        index: index.name.clone(),
        reason,
    };
    if query.vector.len() != index.dimensions {
        return Err(invalid(format!(
            "the query vector has {} numbers; the index's vectors have {} dimensions",
            query.vector.len(),
            index.dimensions
        )));
    }
    if let Some(position) = query.vector.iter().position(|x| !x.is_finite()) {
        return Err(invalid(format!(
            "element {position} of the query vector is not a finite number"
        )));
    }
    if !(1..=MAX_VECTOR_RESULTS).contains(&query.limit) {
        return Err(invalid(format!(
            "limit {} is out of range; a vector search returns 1 to {MAX_VECTOR_RESULTS} results",
            query.limit
        )));
    }
    let mut filter: FilterClauses = Vec::new();
    if let Some(f) = &query.filter {
        if f.clauses.len() > MAX_VECTOR_FILTER_CLAUSES {
            return Err(invalid(format!(
                "{} filter clauses; a vector search may have at most {MAX_VECTOR_FILTER_CLAUSES}",
                f.clauses.len()
            )));
        }
        for (field, value) in &f.clauses {
            let Some(position) = index.filter_position(field) else {
                return Err(invalid(format!(
                    "{field:?} is not a filter field of the index (its filter fields: {:?})",
                    index.filter_fields
                )));
            };
            let clause = (position, filter_value_key(Some(value)));
            if !filter.contains(&clause) {
                filter.push(clause);
            }
        }
        if f.clauses.is_empty() {
            return Err(invalid(
                "the filter has no clauses; use eq on a filter field".to_string(),
            ));
        }
    }
    let vector: Vec<f32> = query.vector.iter().map(|x| *x as f32).collect();
    Ok(VectorSearch {
        query: Arc::from(normalized(&vector)),
        limit: query.limit,
        filter,
    })
}

fn index_of<'a>(
    tx: &'a Transaction,
    table: &'a TableMeta,
    index: &str,
) -> Result<&'a VectorIndexMeta, QueryError> {
    let catalog = tx.store().catalog();
    catalog.vector_index_by_name(table, index).ok_or_else(|| {
        let reason = if catalog.search_index_by_name(table, index).is_some() {
            "it is a full-text search index; use with_search_index for it"
        } else if catalog.index_by_name(table, index).is_some() {
            "it is a database index; use with_index for it"
        } else {
            "the table has no vector index of that name; declare it with TableDefinition::vector_index"
        };
        QueryError::InvalidVectorSearch {
            table: table.name.clone(),
            index: index.to_string(),
            reason: reason.to_string(),
        }
    })
}

/// The ids and scores of a vector search of `table`'s `index` in `tx`, best
/// first (ties: by id).
pub(crate) async fn search_ids(
    tx: &Transaction,
    table: &str,
    index: &str,
    query: &VectorQuery,
) -> Result<Vec<(DocumentId, f64)>, QueryError> {
    let table = tx
        .store()
        .catalog()
        .table(table)
        .cloned()
        .ok_or_else(|| StoreError::UnknownTable(table.to_string()))?;
    let meta = index_of(tx, &table, index)?.clone();
    let search = plan(&table, &meta, query)?;
    let found = tx.vector_search(&meta, search).await?;
    Ok(found
        .into_iter()
        .map(|r| {
            let id = DocumentId {
                table: meta.table,
                internal: r.doc,
            };
            (id, f64::from(r.score))
        })
        .collect())
}

/// A vector search over one table in a query or mutation. Made by
/// [`Query::with_vector_index`](super::Query::with_vector_index); run by
/// [`collect`](VectorSearchQuery::collect).
#[must_use = "a vector search does nothing until collect() is awaited"]
pub struct VectorSearchQuery<'tx, T> {
    tx: &'tx Transaction,
    table: Result<TableMeta, String>,
    index: String,
    query: VectorQuery,
    misuse: Option<String>,
    _out: PhantomData<fn() -> T>,
}

impl<'tx, T: FromDocument> VectorSearchQuery<'tx, T> {
    pub(super) fn new(
        tx: &'tx Transaction,
        table: Result<TableMeta, String>,
        index: String,
        query: VectorQuery,
        misuse: Option<String>,
    ) -> Self {
        VectorSearchQuery {
            tx,
            table,
            index,
            query,
            misuse,
            _out: PhantomData,
        }
    }

    /// The results, most similar first (ties: by id), each with its score.
    pub async fn collect(self) -> Result<Vec<Scored<T>>, QueryError> {
        let table = self
            .table
            .as_ref()
            .map_err(|name| StoreError::UnknownTable(name.clone()))?;
        if let Some(misuse) = &self.misuse {
            return Err(QueryError::InvalidVectorSearch {
                table: table.name.clone(),
                index: self.index.clone(),
                reason: misuse.clone(),
            });
        }
        let found = search_ids(self.tx, &table.name, &self.index, &self.query).await?;
        let ids: Vec<InternalId> = found.iter().map(|(id, _)| id.internal).collect();
        let docs = self.tx.get_many(table.number, &ids).await?;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(docs.len());
        for ((id, score), doc) in found.into_iter().zip(docs) {
            // The search saw the document at this snapshot, so it is there.
            let Some(doc) = doc else {
                tracing::error!(table = %table.name, index = %self.index, id = %id.encode(), "vector search returned a document the store does not have");
                continue;
            };
            if seen.insert(id) {
                out.push(Scored {
                    score,
                    doc: T::from_document(doc, &table.name)?,
                });
            }
        }
        Ok(out)
    }
}
