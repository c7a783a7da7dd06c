//! A small layout engine for generated TypeScript.
//!
//! Types are built as a tree of [`Doc`]s. A group (an object type or a type
//! argument list) is printed on one line when it fits in [`WIDTH`] columns and
//! broken over several lines otherwise, the way prettier lays out declarations.
//! Layout depends only on the tree, so output is deterministic.

/// The line width groups are fitted into.
pub(crate) const WIDTH: usize = 80;
/// Spaces per nesting level.
const INDENT: usize = 2;

/// A piece of TypeScript to lay out.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Doc {
    /// Text without newlines.
    Text(String),
    /// Pieces printed one after the other.
    Concat(Vec<Doc>),
    /// An object type: `{ a: A; b: B }`, or one member per line.
    Members {
        /// The members, each without its trailing `;`.
        items: Vec<Doc>,
        /// Always one member per line (namespaces, top-level declarations).
        force_break: bool,
    },
    /// A union: `A | B`, or one `| member` per line.
    Union(Vec<Doc>),
    /// A generic type application: `Head<A, B>`, or one argument per line.
    Args {
        /// The generic type's name.
        head: String,
        /// The type arguments.
        items: Vec<Doc>,
    },
}

impl Doc {
    /// A text piece.
    pub(crate) fn text(s: impl Into<String>) -> Doc {
        Doc::Text(s.into())
    }

    /// `head<items…>`.
    pub(crate) fn args(head: impl Into<String>, items: Vec<Doc>) -> Doc {
        Doc::Args {
            head: head.into(),
            items,
        }
    }

    /// An object type that is printed flat when it fits.
    pub(crate) fn members(items: Vec<Doc>) -> Doc {
        Doc::Members {
            items,
            force_break: false,
        }
    }

    /// An object type with one member per line.
    pub(crate) fn block(items: Vec<Doc>) -> Doc {
        Doc::Members {
            items,
            force_break: true,
        }
    }

    /// Lays the document out, starting at column `indent` of a line indented by `indent`.
    pub(crate) fn render(&self, indent: usize) -> String {
        let mut printer = Printer {
            out: String::new(),
            column: indent,
        };
        printer.print(self, indent, 0);
        printer.out
    }

    /// The single-line form, or `None` if the document must be broken.
    fn flat(&self) -> Option<String> {
        let mut out = String::new();
        self.write_flat(&mut out).then_some(out)
    }

    fn write_flat(&self, out: &mut String) -> bool {
        match self {
            Doc::Text(s) => {
                out.push_str(s);
                true
            }
            Doc::Concat(parts) => parts.iter().all(|p| p.write_flat(out)),
            Doc::Members { items, .. } if items.is_empty() => {
                out.push_str("{}");
                true
            }
            Doc::Members {
                force_break: true, ..
            } => false,
            Doc::Members { items, .. } => {
                out.push_str("{ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    if !item.write_flat(out) {
                        return false;
                    }
                }
                out.push_str(" }");
                true
            }
            Doc::Union(items) => items.iter().enumerate().all(|(i, item)| {
                if i > 0 {
                    out.push_str(" | ");
                }
                item.write_flat(out)
            }),
            Doc::Args { head, items } => {
                out.push_str(head);
                out.push('<');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if !item.write_flat(out) {
                        return false;
                    }
                }
                out.push('>');
                true
            }
        }
    }

    /// The width of the single-line form (0 if it has none: it will break,
    /// and then only its first line matters, which is short).
    fn flat_width(&self) -> usize {
        self.flat().map_or(0, |s| s.chars().count())
    }
}

struct Printer {
    out: String,
    column: usize,
}

impl Printer {
    fn push(&mut self, s: &str) {
        match s.rfind('\n') {
            Some(i) => self.column = s[i + 1..].chars().count(),
            None => self.column += s.chars().count(),
        }
        self.out.push_str(s);
    }

    /// Whether nothing but indentation precedes the cursor on its line.
    fn at_line_start(&self) -> bool {
        let line = self.out.rsplit('\n').next().unwrap_or_default();
        line.chars().all(|c| c == ' ')
    }

    fn newline(&mut self, indent: usize) {
        // No trailing spaces (`field: ` before a broken union).
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.out.extend(std::iter::repeat_n(' ', indent));
        self.column = indent;
    }

    /// Prints `doc`; `reserve` columns must stay free after it on its last line.
    fn print(&mut self, doc: &Doc, indent: usize, reserve: usize) {
        match doc {
            Doc::Text(s) => self.push(s),
            Doc::Concat(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    let after: usize = parts[i + 1..].iter().map(Doc::flat_width).sum();
                    self.print(part, indent, after + reserve);
                }
            }
            Doc::Members { items, .. } => {
                if items.is_empty() {
                    self.push("{}");
                    return;
                }
                if self.fits_flat(doc, reserve) {
                    return;
                }
                self.push("{");
                for item in items {
                    self.newline(indent + INDENT);
                    self.print(item, indent + INDENT, 1);
                    self.push(";");
                }
                self.newline(indent);
                self.push("}");
            }
            Doc::Union(items) => {
                if self.fits_flat(doc, reserve) {
                    return;
                }
                // `| member` per line, starting on the current line if it is empty.
                let fresh_line = self.at_line_start();
                let indent = if fresh_line {
                    self.column
                } else {
                    indent + INDENT
                };
                for (i, item) in items.iter().enumerate() {
                    if i > 0 || !fresh_line {
                        self.newline(indent);
                    }
                    self.push("| ");
                    let last = i + 1 == items.len();
                    self.print(item, indent + 2, if last { reserve } else { 0 });
                }
            }
            Doc::Args { head, items } => {
                if self.fits_flat(doc, reserve) {
                    return;
                }
                self.push(head);
                self.push("<");
                for (i, item) in items.iter().enumerate() {
                    self.newline(indent + INDENT);
                    let last = i + 1 == items.len();
                    self.print(item, indent + INDENT, usize::from(!last));
                    if !last {
                        self.push(",");
                    }
                }
                self.newline(indent);
                self.push(">");
            }
        }
    }

    /// Prints `doc` on one line if it fits; reports whether it did.
    fn fits_flat(&mut self, doc: &Doc, reserve: usize) -> bool {
        match doc.flat() {
            Some(flat) if self.column + flat.chars().count() + reserve <= WIDTH => {
                self.push(&flat);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, ty: Doc) -> Doc {
        Doc::Concat(vec![Doc::text(format!("{name}: ")), ty])
    }

    #[test]
    fn short_groups_stay_flat() {
        let doc = Doc::members(vec![
            field("a", Doc::text("string")),
            field("b", Doc::args("Array", vec![Doc::text("number")])),
        ]);
        assert_eq!(doc.render(0), "{ a: string; b: Array<number> }");
        assert_eq!(Doc::members(Vec::new()).render(0), "{}");
    }

    #[test]
    fn long_groups_break() {
        let long = "x".repeat(70);
        let doc = Doc::members(vec![
            field("a", Doc::text(long.clone())),
            field("b", Doc::text("y")),
        ]);
        assert_eq!(
            doc.render(0),
            format!("{{\n  a: {long};\n  b: y;\n}}"),
            "the object breaks, its short members stay flat"
        );
        let args = Doc::args("F", vec![Doc::text(long.clone()), Doc::text("z")]);
        assert_eq!(
            args.render(20),
            format!("F<\n  {long},\n  z\n>").replace('\n', &format!("\n{}", " ".repeat(20)))
        );
    }

    #[test]
    fn long_unions_put_one_member_per_line() {
        let member = |n: usize| Doc::text(format!("\"{}\"", "m".repeat(n)));
        let short = Doc::Union(vec![member(1), member(2)]);
        assert_eq!(field("f", short).render(0), r#"f: "m" | "mm""#);
        let long = Doc::Union(vec![member(40), member(40)]);
        let m40 = "m".repeat(40);
        assert_eq!(
            Doc::members(vec![field("f", long.clone())]).render(0),
            format!("{{\n  f:\n    | \"{m40}\"\n    | \"{m40}\";\n}}"),
            "a broken union after a field name leaves no trailing space"
        );
        assert_eq!(
            Doc::args("Array", vec![long]).render(0),
            format!("Array<\n  | \"{m40}\"\n  | \"{m40}\"\n>"),
            "a broken union on a fresh line starts there"
        );
    }

    #[test]
    fn forced_blocks_always_break() {
        let doc = Doc::block(vec![field("a", Doc::text("string"))]);
        assert_eq!(doc.render(0), "{\n  a: string;\n}");
        assert_eq!(Doc::block(Vec::new()).render(0), "{}");
    }
}
