use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Most items one page may ask for.
pub const MAX_PAGE_ITEMS: usize = 32_000;

/// Convex's `paginationOpts` argument, as sent by `usePaginatedQuery`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginationOptions {
    /// How many items the page should have (1 to 32 000).
    pub num_items: f64,
    /// Where to start: `null` for the beginning, else a `continueCursor`.
    pub cursor: Option<String>,
    /// Where to end, inclusive; when set, `num_items` is ignored and the page
    /// covers exactly `[cursor, end_cursor]` (used to re-run a page unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_cursor: Option<String>,
    /// The client's cache-buster id (ignored by the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<f64>,
    /// Stop after scanning this many documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_rows_read: Option<f64>,
    /// Stop after reading this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_bytes_read: Option<f64>,
}

impl PaginationOptions {
    /// The first page of `num_items` items.
    pub fn first(num_items: usize) -> Self {
        PaginationOptions {
            num_items: num_items as f64,
            ..Default::default()
        }
    }

    /// The page of `num_items` items after `cursor`.
    pub fn after(cursor: impl Into<String>, num_items: usize) -> Self {
        PaginationOptions {
            num_items: num_items as f64,
            cursor: Some(cursor.into()),
            ..Default::default()
        }
    }
}

/// One page of results, exactly as Convex's `PaginationResult`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaginationResult<T> {
    /// The items.
    pub page: Vec<T>,
    /// Whether the range is exhausted (this is the last page).
    pub is_done: bool,
    /// Pass as `cursor` to get the next page; also the end of this page.
    pub continue_cursor: String,
    /// A cursor in the middle of the page, offered when the page should be split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_cursor: Option<String>,
    /// `"SplitRecommended"` or `"SplitRequired"` when the page hit read limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_status: Option<String>,
}

impl<T> PaginationResult<T> {
    /// Converts the items.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PaginationResult<U> {
        PaginationResult {
            page: self.page.into_iter().map(f).collect(),
            is_done: self.is_done,
            continue_cursor: self.continue_cursor,
            split_cursor: self.split_cursor,
            page_status: self.page_status,
        }
    }
}
