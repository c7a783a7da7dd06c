//! Prepares the book's chapters for rustdoc.
//!
//! For every `book/src/**/*.md` except `SUMMARY.md`, writes a copy to
//! `OUT_DIR` (same relative path) in which each ```` ```rust ```` block made
//! only of mdBook `{{#include ...}}` directives is removed: those files are
//! compiled and tested as part of the crates they belong to. Every other
//! ```` ```rust ```` block stays, and `src/lib.rs` turns each copy into the
//! documentation of one module, so `cargo test --doc` compiles and runs it.
//!
//! The build fails, naming the file and line, when:
//!
//! * an `{{#include}}` or `{{#rustdoc_include}}` directive (in any block)
//!   names a file that does not exist, an anchor that the file does not
//!   define with both `ANCHOR: name` and `ANCHOR_END: name`, or lines past
//!   its end;
//! * a ```` ```rust ```` block mixes include directives with other code;
//! * a Rust block is marked `ignore` (use `no_run` for code that must not
//!   run; every block must at least compile);
//! * a code block has no language (rustdoc would compile it as Rust, mdBook
//!   would not highlight it);
//! * a chapter is missing from `SUMMARY.md` or has no module in `src/lib.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The include directives of mdBook whose targets are checked.
const DIRECTIVES: [&str; 2] = ["{{#include ", "{{#rustdoc_include "];

fn main() -> ExitCode {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env("OUT_DIR"));
    let book_src = manifest_dir.join("..").join("src");
    let book_src = book_src.canonicalize().unwrap_or(book_src);
    let lib_rs = manifest_dir.join("src").join("lib.rs");
    println!("cargo:rerun-if-changed={}", book_src.display());
    println!("cargo:rerun-if-changed={}", lib_rs.display());

    let mut problems = Vec::new();
    let mut chapters = Vec::new();
    collect_markdown(&book_src, &mut chapters, &mut problems);
    chapters.sort();

    let summary = read(&book_src.join("SUMMARY.md"), &mut problems);
    let lib = read(&lib_rs, &mut problems);
    let mut included = Vec::new();
    for path in &chapters {
        let relative = relative_name(&book_src, path);
        if relative == "SUMMARY.md" {
            continue;
        }
        if !summary.contains(&format!("]({relative})")) {
            problems.push(format!(
                "book/src/{relative}: not listed in book/src/SUMMARY.md, so mdBook would not show it"
            ));
        }
        if !lib.contains(&format!("\"/{relative}\"")) {
            problems.push(format!(
                "book/src/{relative}: no module in book/doctests/src/lib.rs includes it; add \
                 #[doc = include_str!(concat!(env!(\"OUT_DIR\"), \"/{relative}\"))] pub mod ... {{}}"
            ));
        }
        let text = read(path, &mut problems);
        let chapter = Chapter {
            name: format!("book/src/{relative}"),
            dir: path.parent().unwrap_or(&book_src),
        };
        let output = chapter.strip_include_blocks(&text, &mut included, &mut problems);
        let target = out_dir.join(&relative);
        if let Some(parent) = target.parent()
            && let Err(e) = fs::create_dir_all(parent)
        {
            problems.push(format!("cannot create {}: {e}", parent.display()));
        }
        if let Err(e) = fs::write(&target, output) {
            problems.push(format!("cannot write {}: {e}", target.display()));
        }
    }
    included.sort();
    included.dedup();
    for file in included {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    if problems.is_empty() {
        return ExitCode::SUCCESS;
    }
    for problem in &problems {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "error: the book has {} problem(s); see above",
        problems.len()
    );
    ExitCode::FAILURE
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

fn read(path: &Path, problems: &mut Vec<String>) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| {
        problems.push(format!("cannot read {}: {e}", path.display()));
        String::new()
    })
}

/// Every `.md` file under `dir`.
fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>, problems: &mut Vec<String>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(format!("cannot list {}: {e}", dir.display()));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_markdown(&path, out, problems);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// `path` relative to `base`, with `/` separators.
fn relative_name(base: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(base).unwrap_or(path);
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// An opening code fence: its character, length and info string.
struct Fence<'a> {
    marker: char,
    len: usize,
    info: &'a str,
}

fn opening_fence(line: &str) -> Option<Fence<'_>> {
    let trimmed = line.trim_start();
    let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == marker).count();
    (len >= 3).then(|| Fence {
        marker,
        len,
        info: trimmed[len..].trim(),
    })
}

fn closes(fence: &Fence<'_>, line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.len() >= fence.len && trimmed.chars().all(|c| c == fence.marker)
}

/// The info string's words: `rust,no_run` is `["rust", "no_run"]`.
fn info_words(info: &str) -> Vec<&str> {
    info.split([',', ' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect()
}

/// The arguments of the include directive on `line`, if there is one
/// (an escaped `\{{#include` is not a directive).
fn include_directive(line: &str) -> Option<&str> {
    DIRECTIVES.iter().find_map(|directive| {
        let start = line.find(directive)?;
        if line[..start].ends_with('\\') {
            return None;
        }
        let rest = &line[start + directive.len()..];
        let end = rest.find("}}")?;
        Some(rest[..end].trim())
    })
}

struct Chapter<'a> {
    /// `book/src/...md`, for messages.
    name: String,
    /// The directory include paths are relative to.
    dir: &'a Path,
}

impl Chapter<'_> {
    /// The chapter without its include-only Rust blocks, checking every
    /// include directive and code fence on the way.
    fn strip_include_blocks(
        &self,
        text: &str,
        included: &mut Vec<PathBuf>,
        problems: &mut Vec<String>,
    ) -> String {
        let lines: Vec<&str> = text.lines().collect();
        let mut output = String::with_capacity(text.len());
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let Some(fence) = opening_fence(line) else {
                if let Some(args) = include_directive(line) {
                    self.check_include(i + 1, args, included, problems);
                }
                output.push_str(line);
                output.push('\n');
                i += 1;
                continue;
            };
            let body_start = i + 1;
            let mut end = body_start;
            while end < lines.len() && !closes(&fence, lines[end]) {
                end += 1;
            }
            let body = &lines[body_start..end.min(lines.len())];
            let words = info_words(fence.info);
            let at = format!("{}:{}", self.name, i + 1);
            let mut includes = 0;
            let mut other = 0;
            for (offset, body_line) in body.iter().enumerate() {
                match include_directive(body_line) {
                    Some(args) => {
                        includes += 1;
                        self.check_include(body_start + offset + 1, args, included, problems);
                    }
                    None if body_line.trim().is_empty() => {}
                    None => other += 1,
                }
            }
            // rustdoc compiles a block as Rust when its info string says
            // `rust` or consists only of rustdoc attributes (```ignore).
            let is_rust = words.first() == Some(&"rust")
                || (!words.is_empty() && words.iter().all(|w| is_rustdoc_attribute(w)));
            if words.is_empty() {
                problems.push(format!(
                    "{at}: a code block without a language; rustdoc would compile it as Rust \
                     (write ```text, ```sh, ```rust, ...)"
                ));
            } else if is_rust
                && words
                    .iter()
                    .any(|w| *w == "ignore" || w.starts_with("ignore-"))
            {
                problems.push(format!(
                    "{at}: Rust blocks may not be `ignore`d: every block must compile \
                     (use `no_run` for code that must not run)"
                ));
            }
            if is_rust && includes > 0 && other > 0 {
                problems.push(format!(
                    "{at}: a ```rust block mixes {{{{#include}}}} directives with other code; \
                     put the included code and the inline code in separate blocks"
                ));
            }
            let drop_block = is_rust && includes > 0 && other == 0;
            let block_end = (end + 1).min(lines.len());
            if !drop_block {
                for kept in &lines[i..block_end] {
                    output.push_str(kept);
                    output.push('\n');
                }
            }
            i = block_end;
        }
        output
    }

    /// Checks one `{{#include path[:anchor | :lines]}}` directive.
    fn check_include(
        &self,
        line: usize,
        args: &str,
        included: &mut Vec<PathBuf>,
        problems: &mut Vec<String>,
    ) {
        let at = format!("{}:{line}", self.name);
        let (file, selector) = match args.split_once(':') {
            Some((file, selector)) => (file, Some(selector)),
            None => (args, None),
        };
        let path = self.dir.join(file);
        let Ok(content) = fs::read_to_string(&path) else {
            problems.push(format!(
                "{at}: {{{{#include {args}}}}}: cannot read {}",
                path.display()
            ));
            return;
        };
        included.push(path.canonicalize().unwrap_or(path));
        let Some(selector) = selector.filter(|s| !s.is_empty()) else {
            return;
        };
        if let Some(range) = line_range(selector) {
            let needed = range.into_iter().flatten().max().unwrap_or(0);
            let available = content.lines().count();
            if needed > available {
                problems.push(format!(
                    "{at}: {{{{#include {args}}}}}: {file} has only {available} lines"
                ));
            }
            return;
        }
        let start = find_anchor(&content, "ANCHOR:", selector);
        let end = find_anchor(&content, "ANCHOR_END:", selector);
        match (start, end) {
            (Some(start), Some(end)) if start < end => {}
            (Some(_), Some(_)) => problems.push(format!(
                "{at}: {{{{#include {args}}}}}: in {file}, `ANCHOR_END: {selector}` comes before `ANCHOR: {selector}`"
            )),
            (None, _) => problems.push(format!(
                "{at}: {{{{#include {args}}}}}: {file} has no `ANCHOR: {selector}` line"
            )),
            (_, None) => problems.push(format!(
                "{at}: {{{{#include {args}}}}}: {file} has no `ANCHOR_END: {selector}` line"
            )),
        }
    }
}

/// `5`, `2:10`, `:10` or `2:` as (start, end) line numbers; `None` if the
/// selector is an anchor name.
fn line_range(selector: &str) -> Option<[Option<usize>; 2]> {
    let number = |s: &str| -> Option<Option<usize>> {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    match selector.split_once(':') {
        Some((start, end)) => Some([number(start)?, number(end)?]),
        None => Some([number(selector)?, None]),
    }
}

/// The line number of the first line with `marker` followed by the anchor
/// `name` (as mdBook matches it: `ANCHOR:` then optional spaces then the name).
fn find_anchor(content: &str, marker: &str, name: &str) -> Option<usize> {
    content.lines().position(|line| {
        line.match_indices(marker).any(|(at, _)| {
            let rest = line[at + marker.len()..].trim_start();
            let word: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            word == name
        })
    })
}

/// Whether rustdoc reads `word` in a code block's info string as one of its
/// own attributes rather than a language.
fn is_rustdoc_attribute(word: &str) -> bool {
    matches!(
        word,
        "ignore" | "no_run" | "should_panic" | "compile_fail" | "test_harness" | "standalone_crate"
    ) || word.starts_with("ignore-")
        || word.starts_with("edition")
}
