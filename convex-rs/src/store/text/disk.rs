//! The tantivy side of a search index: one tantivy document per live store
//! document as of a generation's timestamp, on disk under the data directory
//! (or in memory for a temporary store).
//!
//! The store stays the source of truth: at open the index is compared with
//! the store's documents and corrected, and any index that cannot be read or
//! was built for another definition is deleted and rebuilt.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use tantivy::indexer::{LogMergePolicy, MergePolicy, NoMergePolicy};
use tantivy::query::{
    Bm25Weight, BooleanQuery, ConstScoreQuery, EnableScoring, Occur, Query, TermQuery,
};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{
    Index, IndexReader, IndexSettings, IndexSortByField, IndexWriter, ReloadPolicy, Score,
    Searcher, TantivyDocument, Term,
};

use super::analyzer::{IndexedDoc, TOKENIZER_NAME, analyzer};
use super::stats::{QueryStats, score};
use super::{Ranked, Ranking, TextError};
use crate::store::SearchIndexMeta;
use crate::value::InternalId;

/// Bumped whenever the tantivy layout changes; an index of another format is rebuilt.
const FORMAT: u32 = 2;
/// Memory tantivy's writer may buffer before it writes a segment.
const WRITER_MEMORY: usize = 32 << 20;

/// The tantivy fields of a search index.
#[derive(Clone, Debug)]
pub(crate) struct Fields {
    /// The document id, indexed for deletes.
    id: Field,
    id_hi: Field,
    id_lo: Field,
    /// Timestamp of the revision indexed.
    rev: Field,
    creation_time: Field,
    pub(crate) text: Field,
    pub(crate) filters: Vec<Field>,
}

fn schema(index: &SearchIndexMeta) -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let id = builder.add_bytes_field("id", INDEXED);
    let id_hi = builder.add_u64_field("id_hi", FAST);
    let id_lo = builder.add_u64_field("id_lo", FAST);
    let rev = builder.add_u64_field("rev", FAST);
    let creation_time =
        builder.add_f64_field("creation_time", NumericOptions::default().set_fast());
    let text = builder.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TOKENIZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqs),
        ),
    );
    let filters = (0..index.filter_fields.len())
        .map(|i| builder.add_bytes_field(&format!("filter{i}"), INDEXED))
        .collect();
    (
        builder.build(),
        Fields {
            id,
            id_hi,
            id_lo,
            rev,
            creation_time,
            text,
            filters,
        },
    )
}

/// A new index whose segments keep their documents newest first (by
/// `_creationTime`), the order ties in score are ranked in: a search can
/// then skip a tie as soon as it reaches documents older than its worst
/// result (see [`top_hits`]).
fn builder(schema: Schema) -> tantivy::IndexBuilder {
    Index::builder().schema(schema).settings(IndexSettings {
        sort_by_field: Some(IndexSortByField {
            field: "creation_time".to_string(),
            order: tantivy::Order::Desc,
        }),
        ..IndexSettings::default()
    })
}

/// What the commit payload records, so a changed definition is noticed.
#[derive(serde::Serialize, serde::Deserialize, PartialEq)]
struct Payload {
    format: u32,
    search_field: String,
    filter_fields: Vec<String>,
    ts: u64,
}

impl Payload {
    fn describes(&self, index: &SearchIndexMeta) -> bool {
        self.format == FORMAT
            && self.search_field == index.search_field
            && self.filter_fields == index.filter_fields
    }
}

fn split_id(id: &InternalId) -> (u64, u64) {
    let mut hi = [0u8; 8];
    let mut lo = [0u8; 8];
    hi.copy_from_slice(&id.0[..8]);
    lo.copy_from_slice(&id.0[8..]);
    (u64::from_be_bytes(hi), u64::from_be_bytes(lo))
}

fn join_id(hi: u64, lo: u64) -> InternalId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    InternalId(bytes)
}

/// How segments are merged: segments of similar size are merged once
/// `MERGE_AT` of them exist, and a segment that has lost a third of its
/// documents to updates and deletes is rewritten.
fn merge_policy() -> LogMergePolicy {
    let mut policy = LogMergePolicy::default();
    policy.set_min_num_segments(MERGE_AT);
    policy.set_level_log_size(3.0);
    policy.set_del_docs_ratio_before_merge(0.3);
    policy
}

/// Segments of one size class that trigger a merge.
const MERGE_AT: usize = 2;

/// A search index's tantivy index, reader and (single) writer.
///
/// Merges run inside [`apply`](DiskIndex::apply), on the caller's (blocking)
/// thread, not in tantivy's background merge threads: the searcher a flush
/// hands out then already has the merged segments, so a search never pays
/// for many small segments after a burst of writes, and every searcher
/// comes from a commit this type made (no reload picks up a merge later).
pub(crate) struct DiskIndex {
    index: Index,
    merges: LogMergePolicy,
    meta: SearchIndexMeta,
    reader: IndexReader,
    /// `None` once closed: the writer holds the directory's lock file.
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
}

impl DiskIndex {
    /// Opens the index in `dir` (or a new one in memory when `dir` is
    /// `None`), deleting and recreating it if it is unreadable or was built
    /// for another definition.
    pub(crate) fn open(meta: &SearchIndexMeta, dir: Option<&Path>) -> Result<DiskIndex, TextError> {
        let (schema, fields) = schema(meta);
        let Some(dir) = dir else {
            return Self::from_index(meta, builder(schema).create_in_ram()?, fields);
        };
        match Self::open_existing(meta, dir, &schema) {
            Ok(Some(index)) => return Self::from_index(meta, index, fields),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                index = %meta.name, table = %meta.table_name, error = %e,
                "search index files are unreadable; rebuilding them from the store"
            ),
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| TextError::io(dir, e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| TextError::io(dir, e))?;
        let index = builder(schema).create_in_dir(dir)?;
        Self::from_index(meta, index, fields)
    }

    /// The index in `dir` if it exists and matches `meta` and `schema`.
    fn open_existing(
        meta: &SearchIndexMeta,
        dir: &Path,
        schema: &Schema,
    ) -> Result<Option<Index>, TextError> {
        if !dir.join("meta.json").exists() {
            return Ok(None);
        }
        let index = Index::open_in_dir(dir)?;
        let payload = index
            .load_metas()?
            .payload
            .and_then(|p| serde_json::from_str::<Payload>(&p).ok());
        let current = payload.is_some_and(|p| p.describes(meta)) && index.schema() == *schema;
        Ok(current.then_some(index))
    }

    fn from_index(
        meta: &SearchIndexMeta,
        index: Index,
        fields: Fields,
    ) -> Result<DiskIndex, TextError> {
        index.tokenizers().register(TOKENIZER_NAME, analyzer());
        let writer: IndexWriter = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        writer.set_merge_policy(Box::new(NoMergePolicy));
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(DiskIndex {
            index,
            merges: merge_policy(),
            meta: meta.clone(),
            reader,
            writer: Mutex::new(Some(writer)),
            fields,
        })
    }

    /// Stops the writer (waiting for its merges), releasing the directory's
    /// lock so the index can be opened again. Later writes fail with
    /// [`TextError::Closed`]; searches keep working.
    pub(crate) fn close(&self) -> Result<(), TextError> {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            writer.wait_merging_threads()?;
        }
        Ok(())
    }

    pub(crate) fn fields(&self) -> &Fields {
        &self.fields
    }

    /// The revision timestamp of every live document in the index.
    pub(crate) fn revisions(&self) -> Result<HashMap<InternalId, u64>, TextError> {
        let searcher = self.reader.searcher();
        let mut out = HashMap::new();
        for segment in searcher.segment_readers() {
            let fast = segment.fast_fields();
            let (hi, lo, rev) = (fast.u64("id_hi")?, fast.u64("id_lo")?, fast.u64("rev")?);
            for doc in segment.doc_ids_alive() {
                if let (Some(h), Some(l), Some(r)) = (hi.first(doc), lo.first(doc), rev.first(doc))
                {
                    out.insert(join_id(h, l), r);
                }
            }
        }
        Ok(out)
    }

    /// Writes `upserts` (revision timestamp and content) and `deletes`,
    /// commits as of `ts` and returns a searcher over the result.
    pub(crate) fn apply(
        &self,
        upserts: &[(u64, &IndexedDoc)],
        deletes: &[InternalId],
        ts: u64,
    ) -> Result<Searcher, TextError> {
        let mut guard = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(writer) = guard.as_mut() else {
            return Err(TextError::Closed);
        };
        for id in deletes.iter().chain(upserts.iter().map(|(_, d)| &d.id)) {
            writer.delete_term(Term::from_field_bytes(self.fields.id, &id.0));
        }
        for (rev, doc) in upserts {
            writer.add_document(self.document(*rev, doc))?;
        }
        let payload = Payload {
            format: FORMAT,
            search_field: self.meta.search_field.clone(),
            filter_fields: self.meta.filter_fields.clone(),
            ts,
        };
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&serde_json::to_string(&payload).unwrap_or_default());
        prepared.commit()?;
        let segments = self.index.searchable_segment_metas()?;
        for candidate in self.merges.compute_merge_candidates(&segments) {
            writer.merge(&candidate.0).wait()?;
        }
        drop(guard);
        self.reader.reload()?;
        Ok(self.reader.searcher())
    }

    fn document(&self, rev: u64, doc: &IndexedDoc) -> TantivyDocument {
        let f = &self.fields;
        let (hi, lo) = split_id(&doc.id);
        let mut out = TantivyDocument::default();
        out.add_bytes(f.id, &doc.id.0[..]);
        out.add_u64(f.id_hi, hi);
        out.add_u64(f.id_lo, lo);
        out.add_u64(f.rev, rev);
        out.add_f64(f.creation_time, doc.creation_time);
        out.add_text(f.text, &doc.text);
        for (field, value) in f.filters.iter().zip(&doc.filters) {
            out.add_bytes(*field, &value[..]);
        }
        out
    }
}

/// The tantivy query: any of `terms`, and every filter `(position, value key)`.
pub(crate) fn build_query(
    fields: &Fields,
    terms: &[String],
    filters: &[(usize, Vec<u8>)],
) -> Box<dyn Query> {
    let any: Vec<(Occur, Box<dyn Query>)> = terms
        .iter()
        .map(|t| {
            let term = Term::from_field_text(fields.text, t);
            let query: Box<dyn Query> =
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
            (Occur::Should, query)
        })
        .collect();
    let text: Box<dyn Query> = Box::new(BooleanQuery::new(any));
    if filters.is_empty() {
        return text;
    }
    let mut all = vec![(Occur::Must, text)];
    for (position, value) in filters {
        let Some(field) = fields.filters.get(*position) else {
            continue;
        };
        let term = TermQuery::new(
            Term::from_field_bytes(*field, value),
            IndexRecordOption::Basic,
        );
        all.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(Box::new(term), 0.0)),
        ));
    }
    Box::new(BooleanQuery::new(all))
}

/// Which part of the ranking a search wants.
#[derive(Clone, Debug, Default)]
pub(crate) struct Window {
    /// Only results ranked after this one.
    pub(crate) after: Option<Ranked>,
    /// Only results ranked at or before this one.
    pub(crate) through: Option<Ranked>,
    /// At most this many.
    pub(crate) limit: usize,
    /// The documents of `after` and `through` as of the search's snapshot,
    /// where known. A cursor's score was computed with the statistics of the
    /// snapshot that made it; scoring its document again with this search's
    /// statistics keeps pages made at different snapshots from skipping or
    /// repeating results when unrelated writes shift every score.
    pub(crate) bound_docs: Vec<IndexedDoc>,
    /// The ranking of the pagination this window belongs to, from its
    /// cursors; `None` for a first page or a search without cursors.
    pub(crate) ranking: Option<Ranking>,
}

impl Window {
    /// Gives `after` and `through` their documents' scores under `weights`.
    pub(crate) fn rescore(&mut self, terms: &[String], weights: &[Bm25Weight]) {
        for bound in [&mut self.after, &mut self.through].into_iter().flatten() {
            let current = self
                .bound_docs
                .iter()
                .find(|d| d.id == bound.id)
                .and_then(|d| score(d, terms, weights));
            if let Some(current) = current {
                bound.score = current;
            }
        }
    }

    pub(crate) fn admits(&self, r: &Ranked) -> bool {
        self.after.is_none_or(|a| *r < a) && self.through.is_none_or(|t| *r >= t)
    }
}

/// The best `window.limit` documents of `searcher` for `query`, skipping
/// `excluded` ones, scored with `stats`. Ties in score go to the newer document.
///
/// Tantivy only hands over documents scoring above a threshold. A document
/// that ties the current worst result beats it only if it is newer, and
/// within a segment documents come newest first, so the threshold admits
/// ties only while the documents ahead can still be newer than the worst.
pub(crate) fn top_hits(
    searcher: &Searcher,
    query: &dyn Query,
    stats: &QueryStats,
    excluded: &HashSet<InternalId>,
    window: &Window,
) -> Result<Vec<Ranked>, TextError> {
    let weight = query.weight(EnableScoring::enabled_from_statistics_provider(
        stats, searcher,
    ))?;
    // A min-heap of the best so far (`Reverse` order through `Ranked`'s `Ord`).
    let mut best: BinaryHeap<std::cmp::Reverse<Ranked>> = BinaryHeap::new();
    let floor = window.through.map_or(Score::MIN, |t| t.score.next_down());
    // The threshold when the documents still to come are at most as new as `newest`.
    let threshold = |best: &BinaryHeap<std::cmp::Reverse<Ranked>>, newest: f64| match best.peek() {
        Some(worst) if best.len() >= window.limit => {
            let worst = worst.0;
            let ties_can_win = newest > worst.creation_time;
            let t = if ties_can_win {
                worst.score.next_down()
            } else {
                worst.score
            };
            t.max(floor)
        }
        _ => floor,
    };
    for segment in searcher.segment_readers() {
        let fast = segment.fast_fields();
        let (hi, lo) = (fast.u64("id_hi")?, fast.u64("id_lo")?);
        let created = fast.f64("creation_time")?;
        let alive = segment.alive_bitset();
        let start = threshold(&best, created.max_value());
        weight.for_each_pruning(start, segment, &mut |doc, score| {
            let creation_time = created.first(doc).unwrap_or(0.0);
            if alive.is_none_or(|a| a.is_alive(doc)) {
                let id = join_id(hi.first(doc).unwrap_or(0), lo.first(doc).unwrap_or(0));
                let ranked = Ranked {
                    score,
                    creation_time,
                    id,
                };
                if window.admits(&ranked) && !excluded.contains(&id) {
                    best.push(std::cmp::Reverse(ranked));
                    if best.len() > window.limit {
                        best.pop();
                    }
                }
            }
            // The rest of this segment is no newer than this document.
            threshold(&best, creation_time)
        })?;
    }
    let mut out: Vec<Ranked> = best.into_iter().map(|r| r.0).collect();
    out.sort_by(|a, b| b.cmp(a));
    Ok(out)
}

/// The directory of one search index under a store's search root.
pub(crate) fn index_dir(root: &Path, meta: &SearchIndexMeta) -> PathBuf {
    root.join(format!("{}.{}", meta.table_name, meta.name))
}
