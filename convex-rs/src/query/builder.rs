use std::marker::PhantomData;

use super::cursor::Cursor;
use super::search::{SearchFilter, SearchIndexBuilder, SearchQuery};
use super::vector::{VectorQuery, VectorSearchQuery};
use super::{
    Expr, FromDocument, IndexRange, MAX_PAGE_ITEMS, PaginationOptions, PaginationResult, QueryError,
};
use crate::store::{Document, IndexMeta, KeyInterval, Order, StoreError, TableMeta, Transaction};

/// A query over one table, built step by step and run by one of the
/// terminal methods ([`collect`](Query::collect), [`take`](Query::take),
/// [`first`](Query::first), [`unique`](Query::unique),
/// [`paginate`](Query::paginate)).
///
/// Without [`with_index`](Query::with_index) the table is scanned in
/// `_creationTime` order. Filters run after the index range: every document
/// the range yields counts toward the transaction's read limits, so put
/// selective conditions in the range.
#[must_use = "a query does nothing until collect(), take(), first(), unique() or paginate() is awaited"]
pub struct Query<'tx, T> {
    tx: &'tx Transaction,
    table: Result<TableMeta, String>,
    index: Option<(String, IndexRange)>,
    filter: Option<Expr>,
    order: Order,
    _out: PhantomData<fn() -> T>,
}

impl<'tx, T: FromDocument> Query<'tx, T> {
    /// A query over the table named `table`.
    pub fn new(tx: &'tx Transaction, table: &str) -> Self {
        let table = tx
            .store()
            .catalog()
            .table(table)
            .cloned()
            .ok_or_else(|| table.to_string());
        Query {
            tx,
            table,
            index: None,
            filter: None,
            order: Order::Asc,
            _out: PhantomData,
        }
    }

    /// Scans `range` of the named index instead of the whole table.
    pub fn with_index(mut self, index: &str, range: IndexRange) -> Self {
        self.index = Some((index.to_string(), range));
        self
    }

    /// Turns this query into a full-text search of the search index `index`,
    /// in relevance order. `search` names the search field and the text,
    /// then any equality filters on the index's filter fields:
    ///
    /// ```no_run
    /// # use convex_rs::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Message { body: String, channel: String }
    /// # impl TableType for Message { const TABLE_NAME: &'static str = "messages"; }
    /// # async fn demo(ctx: &QueryCtx) -> Result<(), FunctionError> {
    /// let hits: Vec<Doc<Message>> = ctx
    ///     .db()
    ///     .query::<Message>()
    ///     .with_search_index("search_body", |q| q.search("body", "hello wor").eq("channel", "general"))
    ///     .take(10)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A search cannot be combined with [`with_index`](Query::with_index)
    /// or [`order`](Query::order); filters added before it run on its results.
    pub fn with_search_index(
        self,
        index: &str,
        search: impl FnOnce(SearchIndexBuilder) -> SearchFilter,
    ) -> SearchQuery<'tx, T> {
        let misuse = if self.index.is_some() {
            Some("a query can use with_index or with_search_index, not both".to_string())
        } else if self.order != Order::Asc {
            Some("search results come in relevance order; order() cannot be combined with with_search_index".to_string())
        } else {
            None
        };
        let search = search(SearchIndexBuilder::new());
        SearchQuery::new(
            self.tx,
            self.table,
            index.to_string(),
            search,
            self.filter,
            misuse,
        )
    }

    /// Turns this query into a vector search of the vector index `index`:
    /// the documents whose vectors are most similar (cosine) to the query's,
    /// each with its `_score`, at this transaction's snapshot and recorded in
    /// its read set, so a subscribed query is re-run when a write could
    /// change its result.
    ///
    /// ```no_run
    /// # use convex_rs::prelude::*;
    /// # #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
    /// # struct Note { embedding: Vec<f64>, tag: String }
    /// # impl TableType for Note { const TABLE_NAME: &'static str = "notes"; }
    /// # async fn demo(ctx: &QueryCtx, vector: Vec<f64>) -> Result<(), FunctionError> {
    /// let similar: Vec<Scored<Doc<Note>>> = ctx
    ///     .db()
    ///     .query::<Note>()
    ///     .with_vector_index("by_embedding", VectorQuery::new(vector).limit(5).filter(|f| f.eq("tag", "news")))
    ///     .collect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A vector search cannot be combined with [`with_index`](Query::with_index),
    /// [`order`](Query::order) or [`filter`](Query::filter); filter on the
    /// index's filter fields with [`VectorQuery::filter`].
    pub fn with_vector_index(self, index: &str, query: VectorQuery) -> VectorSearchQuery<'tx, T> {
        let misuse = if self.index.is_some() {
            Some("a query can use with_index or with_vector_index, not both".to_string())
        } else if self.order != Order::Asc {
            Some("vector results come in similarity order; order() cannot be combined with with_vector_index".to_string())
        } else if self.filter.is_some() {
            Some("filter() cannot be combined with with_vector_index; use VectorQuery::filter on the index's filter fields".to_string())
        } else {
            None
        };
        VectorSearchQuery::new(self.tx, self.table, index.to_string(), query, misuse)
    }

    /// Keeps only documents matching `filter` (combined with earlier filters by `and`).
    pub fn filter(mut self, filter: Expr) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    /// Sets the order (ascending index order by default).
    pub fn order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    fn plan(&self) -> Result<(&TableMeta, IndexMeta, KeyInterval), QueryError> {
        let table = self
            .table
            .as_ref()
            .map_err(|name| StoreError::UnknownTable(name.clone()))?;
        let catalog = self.tx.store().catalog();
        let (index, interval) = match &self.index {
            None => {
                let index = catalog
                    .index(table.by_creation_time)
                    .cloned()
                    .ok_or_else(|| {
                        StoreError::Catalog(format!(
                            "table {} has no by_creation_time index",
                            table.name
                        ))
                    })?;
                (index, KeyInterval::all())
            }
            Some((name, range)) => {
                let index = catalog.index_by_name(table, name).cloned().ok_or_else(|| {
                    StoreError::UnknownIndex {
                        table: table.name.clone(),
                        index: name.clone(),
                    }
                })?;
                let interval = range.to_interval(&table.name, &index)?;
                (index, interval)
            }
        };
        Ok((table, index, interval))
    }

    /// Runs the scan over `interval`, calling `visit` for each matching
    /// document until it returns `false`. Returns whether the scan ran out and
    /// the key of the last document examined.
    async fn run(
        &self,
        index: &IndexMeta,
        interval: KeyInterval,
        hint: usize,
        max_rows: Option<usize>,
        mut visit: impl FnMut(Document) -> bool,
    ) -> Result<(bool, Option<Vec<u8>>, bool), QueryError> {
        let mut scan = self.tx.scan(index, interval, self.order, hint);
        let mut scanned = 0usize;
        loop {
            if max_rows.is_some_and(|max| scanned >= max) {
                return Ok((false, scan.last_key().map(<[u8]>::to_vec), true));
            }
            let Some(doc) = scan.next().await? else {
                return Ok((true, scan.last_key().map(<[u8]>::to_vec), false));
            };
            scanned += 1;
            if self.filter.as_ref().is_none_or(|f| f.matches(&doc)) && !visit(doc) {
                return Ok((scan.is_done(), scan.last_key().map(<[u8]>::to_vec), false));
            }
        }
    }

    fn convert(&self, docs: Vec<Document>, table: &TableMeta) -> Result<Vec<T>, QueryError> {
        docs.into_iter()
            .map(|d| T::from_document(d, &table.name))
            .collect()
    }

    /// Every matching document.
    pub async fn collect(self) -> Result<Vec<T>, QueryError> {
        let (table, index, interval) = self.plan()?;
        let mut out = Vec::new();
        self.run(&index, interval, 64, None, |d| {
            out.push(d);
            true
        })
        .await?;
        self.convert(out, table)
    }

    /// At most `n` matching documents.
    pub async fn take(self, n: usize) -> Result<Vec<T>, QueryError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let (table, index, interval) = self.plan()?;
        let mut out = Vec::with_capacity(n.min(1024));
        self.run(&index, interval, n, None, |d| {
            out.push(d);
            out.len() < n
        })
        .await?;
        self.convert(out, table)
    }

    /// The first matching document.
    pub async fn first(self) -> Result<Option<T>, QueryError> {
        Ok(self.take(1).await?.into_iter().next())
    }

    /// The only matching document; an error if there is more than one.
    pub async fn unique(self) -> Result<Option<T>, QueryError> {
        let (table, index, interval) = self.plan()?;
        let mut out = Vec::with_capacity(2);
        self.run(&index, interval, 2, None, |d| {
            out.push(d);
            out.len() < 2
        })
        .await?;
        if let [first, second] = out.as_slice() {
            return Err(QueryError::NotUnique {
                table: table.name.clone(),
                first: first.id.encode(),
                second: second.id.encode(),
            });
        }
        Ok(self.convert(out, table)?.into_iter().next())
    }

    /// One page of results, Convex-style: re-running with the returned
    /// `continue_cursor` as `end_cursor` covers exactly the same key range.
    pub async fn paginate(
        self,
        options: &PaginationOptions,
    ) -> Result<PaginationResult<T>, QueryError> {
        let (table, index, mut interval) = self.plan()?;
        let num_items = options.num_items;
        if !(num_items >= 1.0 && num_items <= MAX_PAGE_ITEMS as f64 && num_items.fract() == 0.0) {
            return Err(QueryError::InvalidPagination(format!(
                "numItems must be a whole number from 1 to {MAX_PAGE_ITEMS}, got {num_items}"
            )));
        }
        let num_items = num_items as usize;
        let max_rows = match options.maximum_rows_read {
            None => None,
            Some(m) if m >= 1.0 => Some(m as usize),
            Some(m) => {
                return Err(QueryError::InvalidPagination(format!(
                    "maximumRowsRead must be at least 1, got {m}"
                )));
            }
        };
        let start = options.cursor.as_deref().map(Cursor::decode).transpose()?;
        // A re-execution of a subscribed page keeps the end it had the first
        // time (its journal), so pages neither gap nor overlap as data changes.
        let first_paginate = self.tx.journal().is_none();
        let journal_end = if first_paginate {
            self.tx.journal_input()
        } else {
            None
        };
        let end_cursor = options.end_cursor.clone().or(journal_end);
        let end = end_cursor.as_deref().map(Cursor::decode).transpose()?;
        let done = |cursor: Cursor| PaginationResult {
            page: Vec::new(),
            is_done: true,
            continue_cursor: cursor.encode(),
            split_cursor: None,
            page_status: None,
        };
        match start {
            Some(Cursor::End) => return Ok(done(Cursor::End)),
            Some(Cursor::After(key)) => narrow_after(&mut interval, &key, self.order),
            None => {}
        }
        if let Some(Cursor::After(key)) = &end {
            narrow_through(&mut interval, key, self.order);
        }
        let mut page = Vec::new();
        let limit = if end.is_some() { usize::MAX } else { num_items };
        let (exhausted, last_key, hit_row_limit) = self
            .run(
                &index,
                interval,
                num_items.saturating_add(1),
                max_rows,
                |d| {
                    page.push(d);
                    page.len() < limit
                },
            )
            .await?;
        let (is_done, continue_cursor) = match end {
            Some(end) => (end == Cursor::End, end),
            None if exhausted => (true, Cursor::End),
            None => match last_key {
                Some(key) => (false, Cursor::After(key)),
                None => (true, Cursor::End),
            },
        };
        let continue_cursor = continue_cursor.encode();
        if first_paginate {
            self.tx.record_journal(continue_cursor.clone());
        }
        Ok(PaginationResult {
            page: self.convert(page, table)?,
            is_done,
            continue_cursor,
            split_cursor: None,
            page_status: hit_row_limit.then(|| "SplitRecommended".to_string()),
        })
    }
}

/// Restricts `interval` to keys after `key` in scan order.
fn narrow_after(interval: &mut KeyInterval, key: &[u8], order: Order) {
    match order {
        Order::Asc => {
            let next = crate::store::KeyInterval::point(key)
                .end
                .unwrap_or_default();
            if next > interval.start {
                interval.start = next;
            }
        }
        Order::Desc => {
            if interval.end.as_deref().is_none_or(|end| key < end) {
                interval.end = Some(key.to_vec());
            }
        }
    }
}

/// Restricts `interval` to keys up to and including `key` in scan order.
fn narrow_through(interval: &mut KeyInterval, key: &[u8], order: Order) {
    match order {
        Order::Asc => {
            let through = crate::store::KeyInterval::point(key)
                .end
                .unwrap_or_default();
            if interval.end.as_ref().is_none_or(|end| through < *end) {
                interval.end = Some(through);
            }
        }
        Order::Desc => {
            if key > interval.start.as_slice() {
                interval.start = key.to_vec();
            }
        }
    }
}
