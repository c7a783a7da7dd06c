//! Full-text search queries: `with_search_index`, ranked by BM25.

use std::collections::HashSet;
use std::marker::PhantomData;

use super::cursor::Cursor;
use super::{Expr, FromDocument, PaginationOptions, PaginationResult, QueryError};
use crate::store::text::{
    IndexedDoc, MAX_SEARCH_FILTERS, MAX_SEARCH_RESULTS, MAX_SEARCH_TERMS, Ranked, Ranking,
    SearchCursor, Searched, TextQuery, Window, filter_value_key, terms,
};
use crate::store::{Document, SearchIndexMeta, StoreError, TableMeta, Transaction};
use crate::value::{DocumentId, InternalId, Value};

/// The start of a search: name the search field and the text with
/// [`search`](SearchIndexBuilder::search).
#[derive(Debug)]
pub struct SearchIndexBuilder {
    _private: (),
}

impl SearchIndexBuilder {
    pub(super) fn new() -> Self {
        SearchIndexBuilder { _private: () }
    }

    /// Finds documents whose `field` (the index's search field) contains any
    /// of the terms of `text`; the last term also matches as a prefix.
    pub fn search(self, field: &str, text: impl Into<String>) -> SearchFilter {
        SearchFilter {
            field: field.to_string(),
            text: text.into(),
            eqs: Vec::new(),
        }
    }
}

/// A search with its equality filters on the index's filter fields.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchFilter {
    field: String,
    text: String,
    eqs: Vec<(String, Value)>,
}

impl SearchFilter {
    /// Keeps only documents whose filter field `field` equals `value`
    /// (several `eq`s must all hold).
    pub fn eq(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.eqs.push((field.to_string(), value.into()));
        self
    }
}

/// A full-text search over one table, in relevance order (best first; ties
/// go to the newer document). Made by
/// [`Query::with_search_index`](super::Query::with_search_index); run by
/// [`take`](SearchQuery::take), [`collect`](SearchQuery::collect),
/// [`first`](SearchQuery::first), [`unique`](SearchQuery::unique) or
/// [`paginate`](SearchQuery::paginate).
///
/// A search returns at most [`MAX_SEARCH_RESULTS`] documents per call; page
/// through more. A [`filter`](SearchQuery::filter) runs on those results, so
/// it can shorten a page but never widens what the search examined.
#[must_use = "a search does nothing until take(), collect(), first(), unique() or paginate() is awaited"]
pub struct SearchQuery<'tx, T> {
    tx: &'tx Transaction,
    table: Result<TableMeta, String>,
    index: String,
    search: SearchFilter,
    filter: Option<Expr>,
    misuse: Option<String>,
    _out: PhantomData<fn() -> T>,
}

/// What one run of the search returned.
#[derive(Default)]
struct Fetched {
    /// The results that passed the post-filter, in rank order.
    docs: Vec<Document>,
    /// How many results the search returned before the post-filter.
    found: usize,
    /// The last of those.
    last: Option<Ranked>,
    /// The ranking they come from.
    ranking: Ranking,
}

/// A checked search, ready to run.
struct Plan<'a> {
    table: &'a TableMeta,
    index: SearchIndexMeta,
    query: Option<TextQuery>,
}

impl<'tx, T: FromDocument> SearchQuery<'tx, T> {
    pub(super) fn new(
        tx: &'tx Transaction,
        table: Result<TableMeta, String>,
        index: String,
        search: SearchFilter,
        filter: Option<Expr>,
        misuse: Option<String>,
    ) -> Self {
        SearchQuery {
            tx,
            table,
            index,
            search,
            filter,
            misuse,
            _out: PhantomData,
        }
    }

    /// Keeps only results matching `filter` (combined with earlier filters by `and`).
    pub fn filter(mut self, filter: Expr) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    fn invalid(&self, table: &TableMeta, reason: impl Into<String>) -> QueryError {
        QueryError::InvalidSearch {
            table: table.name.clone(),
            index: self.index.clone(),
            reason: reason.into(),
        }
    }

    fn plan(&self) -> Result<Plan<'_>, QueryError> {
        let table = self
            .table
            .as_ref()
            .map_err(|name| StoreError::UnknownTable(name.clone()))?;
        if let Some(misuse) = &self.misuse {
            return Err(self.invalid(table, misuse.clone()));
        }
        let catalog = self.tx.store().catalog();
        let index = catalog
            .search_index_by_name(table, &self.index)
            .cloned()
            .ok_or_else(|| {
                let reason = if catalog.index_by_name(table, &self.index).is_some() {
                    "it is a database index; use with_index for it".to_string()
                } else {
                    "the table has no search index of that name; declare it with TableDefinition::search_index".to_string()
                };
                self.invalid(table, reason)
            })?;
        if self.search.field != index.search_field {
            return Err(self.invalid(
                table,
                format!(
                    "the search field is {:?}, not {:?}",
                    index.search_field, self.search.field
                ),
            ));
        }
        if self.search.eqs.len() > MAX_SEARCH_FILTERS {
            return Err(self.invalid(
                table,
                format!(
                    "{} filter clauses; a search may have at most {MAX_SEARCH_FILTERS}",
                    self.search.eqs.len()
                ),
            ));
        }
        let mut filters: Vec<(usize, Vec<u8>)> = Vec::with_capacity(self.search.eqs.len());
        for (field, value) in &self.search.eqs {
            let Some(position) = index.filter_position(field) else {
                return Err(self.invalid(
                    table,
                    format!(
                        "{field:?} is not a filter field of the index (its filter fields: {:?})",
                        index.filter_fields
                    ),
                ));
            };
            let key = filter_value_key(Some(value));
            match filters.iter().find(|(p, _)| *p == position) {
                // Two different values for one field: nothing can match.
                Some((_, existing)) if *existing != key => {
                    return Ok(Plan {
                        table,
                        index,
                        query: None,
                    });
                }
                Some(_) => {}
                None => filters.push((position, key)),
            }
        }
        // The last term as typed is the prefix, even if it also came earlier.
        let mut words = terms(&self.search.text);
        let prefix = words.pop();
        let mut seen: HashSet<String> = prefix.iter().cloned().collect();
        words.retain(|w| seen.insert(w.clone()));
        if seen.len() > MAX_SEARCH_TERMS {
            return Err(self.invalid(
                table,
                format!(
                    "the search text has {} distinct terms; at most {MAX_SEARCH_TERMS} are allowed",
                    seen.len()
                ),
            ));
        }
        let query = prefix.map(|prefix| TextQuery {
            terms: words,
            prefix: Some(prefix),
            filters,
        });
        Ok(Plan {
            table,
            index,
            query,
        })
    }

    /// The ranked results of the search in `window`.
    async fn ranked(&self, plan: &Plan<'_>, window: Window) -> Result<Searched, QueryError> {
        let Some(query) = plan.query.clone() else {
            return Ok(Searched::default());
        };
        Ok(self.tx.search(&plan.index, query, window).await?)
    }

    /// Loads the documents of `ranked`, in rank order, keeping those that
    /// pass the post-filter.
    async fn load(&self, plan: &Plan<'_>, ranked: &[Ranked]) -> Result<Vec<Document>, QueryError> {
        let ids: Vec<InternalId> = ranked.iter().map(|r| r.id).collect();
        let docs = self.tx.get_many(plan.index.table, &ids).await?;
        let mut out = Vec::with_capacity(docs.len());
        for doc in docs {
            // The search saw the document at this snapshot, so it is there;
            // a missing one would be an index bug, and is skipped.
            let Some(doc) = doc else {
                tracing::error!(table = %plan.table.name, index = %plan.index.name, "search returned a document the store does not have");
                continue;
            };
            if self.filter.as_ref().is_none_or(|f| f.matches(&doc)) {
                out.push(doc);
            }
        }
        Ok(out)
    }

    fn id_of(&self, plan: &Plan<'_>, r: &Ranked) -> DocumentId {
        DocumentId {
            table: plan.index.table,
            internal: r.id,
        }
    }

    /// Runs the search in `window` and loads its results.
    async fn fetch(&self, plan: &Plan<'_>, window: Window) -> Result<Fetched, QueryError> {
        let Searched { ranked, ranking } = self.ranked(plan, window).await?;
        Ok(Fetched {
            docs: self.load(plan, &ranked).await?,
            found: ranked.len(),
            last: ranked.last().copied(),
            ranking,
        })
    }

    /// Up to `n` results that pass the post-filter, examining at most
    /// [`MAX_SEARCH_RESULTS`] search results.
    async fn best(&self, plan: &Plan<'_>, n: usize) -> Result<Vec<Document>, QueryError> {
        let mut out = Vec::with_capacity(n.min(64));
        let mut window = Window {
            limit: n,
            ..Window::default()
        };
        let mut examined = 0;
        loop {
            let fetched = self.fetch(plan, window.clone()).await?;
            examined += fetched.found;
            out.extend(fetched.docs.into_iter().take(n - out.len()));
            if out.len() >= n || fetched.found < window.limit || examined >= MAX_SEARCH_RESULTS {
                return Ok(out);
            }
            // Only a post-filter makes a window come back short of `n`; look further.
            window.after = fetched.last;
            window.limit = (n - out.len()).max(64).min(MAX_SEARCH_RESULTS - examined);
        }
    }

    fn convert(&self, docs: Vec<Document>, table: &TableMeta) -> Result<Vec<T>, QueryError> {
        docs.into_iter()
            .map(|d| T::from_document(d, &table.name))
            .collect()
    }

    /// The best `n` results (at most [`MAX_SEARCH_RESULTS`]).
    pub async fn take(self, n: usize) -> Result<Vec<T>, QueryError> {
        let plan = self.plan()?;
        if n > MAX_SEARCH_RESULTS {
            return Err(self.invalid(
                plan.table,
                format!("take({n}): a search returns at most {MAX_SEARCH_RESULTS} results; use paginate() for more"),
            ));
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let docs = self.best(&plan, n).await?;
        self.convert(docs, plan.table)
    }

    /// Every result; an error if there are more than [`MAX_SEARCH_RESULTS`].
    pub async fn collect(self) -> Result<Vec<T>, QueryError> {
        let plan = self.plan()?;
        let window = Window {
            limit: MAX_SEARCH_RESULTS + 1,
            ..Window::default()
        };
        let ranked = self.ranked(&plan, window).await?.ranked;
        if ranked.len() > MAX_SEARCH_RESULTS {
            return Err(self.invalid(
                plan.table,
                format!("collect(): the search matches more than {MAX_SEARCH_RESULTS} documents; use take(n) or paginate()"),
            ));
        }
        let docs = self.load(&plan, &ranked).await?;
        self.convert(docs, plan.table)
    }

    /// The best result.
    pub async fn first(self) -> Result<Option<T>, QueryError> {
        Ok(self.take(1).await?.into_iter().next())
    }

    /// The only result; an error if there is more than one.
    pub async fn unique(self) -> Result<Option<T>, QueryError> {
        let plan = self.plan()?;
        let docs = self.best(&plan, 2).await?;
        if let [first, second] = docs.as_slice() {
            return Err(QueryError::NotUnique {
                table: plan.table.name.clone(),
                first: first.id.encode(),
                second: second.id.encode(),
            });
        }
        self.convert(docs, plan.table).map(|d| d.into_iter().next())
    }

    /// One page of results in relevance order (at most
    /// [`MAX_SEARCH_RESULTS`] items). A re-run of a subscribed page keeps the
    /// end it had the first time, as [`Query::paginate`](super::Query::paginate) does.
    pub async fn paginate(
        self,
        options: &PaginationOptions,
    ) -> Result<PaginationResult<T>, QueryError> {
        let plan = self.plan()?;
        let num_items = options.num_items;
        if !(num_items >= 1.0 && num_items <= MAX_SEARCH_RESULTS as f64 && num_items.fract() == 0.0)
        {
            return Err(QueryError::InvalidPagination(format!(
                "numItems of a search must be a whole number from 1 to {MAX_SEARCH_RESULTS}, got {num_items}"
            )));
        }
        let num_items = num_items as usize;
        let position = |cursor: &Option<String>| -> Result<Option<Cursor>, QueryError> {
            cursor.as_deref().map(Cursor::decode).transpose()
        };
        let ranked_at = |cursor: &Cursor| -> Result<Option<SearchCursor>, QueryError> {
            match cursor {
                Cursor::End => Ok(None),
                Cursor::After(bytes) => SearchCursor::decode(bytes).map(Some).ok_or_else(|| {
                    QueryError::InvalidCursor("this cursor does not come from a search".to_string())
                }),
            }
        };
        let first_paginate = self.tx.journal().is_none();
        let journal_end = if first_paginate {
            self.tx.journal_input()
        } else {
            None
        };
        let start = position(&options.cursor)?;
        let end = position(&options.end_cursor.clone().or(journal_end))?;
        if start == Some(Cursor::End) {
            return Ok(PaginationResult {
                page: Vec::new(),
                is_done: true,
                continue_cursor: Cursor::End.encode(),
                split_cursor: None,
                page_status: None,
            });
        }
        let after = start.as_ref().map(ranked_at).transpose()?.flatten();
        let through = end.as_ref().map(ranked_at).transpose()?.flatten();
        let mut bound_docs = Vec::new();
        for bound in after.iter().chain(through.iter()) {
            if let Some(doc) = self.tx.get(self.id_of(&plan, &bound.last)).await? {
                bound_docs.extend(IndexedDoc::of(&plan.index, &doc));
            }
        }
        // Every page of one pagination ranks as its first page did.
        let ranking = after
            .as_ref()
            .or(through.as_ref())
            .map(|c| c.ranking.clone());
        let window = Window {
            after: after.map(|c| c.last),
            through: through.map(|c| c.last),
            limit: if end.is_some() {
                MAX_SEARCH_RESULTS
            } else {
                num_items
            },
            bound_docs,
            ranking,
        };
        let fetched = self.fetch(&plan, window).await?;
        let (is_done, continue_cursor) = match end {
            Some(end) => (end == Cursor::End, end),
            None if fetched.found < num_items => (true, Cursor::End),
            None => match fetched.last {
                Some(last) => {
                    let cursor = SearchCursor {
                        last,
                        ranking: fetched.ranking,
                    };
                    (false, Cursor::After(cursor.encode()))
                }
                None => (true, Cursor::End),
            },
        };
        let continue_cursor = continue_cursor.encode();
        if first_paginate {
            self.tx.record_journal(continue_cursor.clone());
        }
        Ok(PaginationResult {
            page: self.convert(fetched.docs, plan.table)?,
            is_done,
            continue_cursor,
            split_cursor: None,
            page_status: None,
        })
    }
}
