use std::cmp::Ordering;

use crate::store::Document;
use crate::value::Value;

/// A filter expression over a document, evaluated after the index range.
///
/// Build one with [`field`] and the comparison methods; combine with
/// [`Expr::and`], [`Expr::or`] and [`not`]. A missing field compares as
/// smaller than every value (Convex's `undefined`), and equals only another
/// missing field.
///
/// ```
/// use convex_rs::query::{field, not};
/// let e = field("author.name").eq("ada").and(not(field("likes").lt(3.0)));
/// # let _ = e;
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Expr {
    /// The value at a dotted field path.
    Field(String),
    /// A constant.
    Literal(Value),
    /// `a == b`.
    Eq(Box<Expr>, Box<Expr>),
    /// `a != b`.
    Neq(Box<Expr>, Box<Expr>),
    /// `a < b`.
    Lt(Box<Expr>, Box<Expr>),
    /// `a <= b`.
    Lte(Box<Expr>, Box<Expr>),
    /// `a > b`.
    Gt(Box<Expr>, Box<Expr>),
    /// `a >= b`.
    Gte(Box<Expr>, Box<Expr>),
    /// All of them.
    And(Vec<Expr>),
    /// Any of them.
    Or(Vec<Expr>),
    /// The negation.
    Not(Box<Expr>),
}

/// The value of the field at `path` (dotted for nested fields, e.g. `"author.name"`).
pub fn field(path: &str) -> Expr {
    Expr::Field(path.to_string())
}

/// The negation of `e`.
pub fn not(e: Expr) -> Expr {
    Expr::Not(Box::new(e))
}

/// Anything usable as an operand: an [`Expr`] or a plain value.
pub trait IntoExpr {
    /// Converts into an expression.
    fn into_expr(self) -> Expr;
}

impl IntoExpr for Expr {
    fn into_expr(self) -> Expr {
        self
    }
}

impl<T: Into<Value>> IntoExpr for T {
    fn into_expr(self) -> Expr {
        Expr::Literal(self.into())
    }
}

macro_rules! comparison {
    ($(#[$doc:meta] $name:ident => $variant:ident),* $(,)?) => {
        impl Expr {
            $(
                #[$doc]
                pub fn $name(self, other: impl IntoExpr) -> Expr {
                    Expr::$variant(Box::new(self), Box::new(other.into_expr()))
                }
            )*
        }
    };
}

comparison! {
    /// `self == other`.
    eq => Eq,
    /// `self != other`.
    neq => Neq,
    /// `self < other`.
    lt => Lt,
    /// `self <= other`.
    lte => Lte,
    /// `self > other`.
    gt => Gt,
    /// `self >= other`.
    gte => Gte,
}

impl Expr {
    /// `self && other`.
    pub fn and(self, other: Expr) -> Expr {
        match self {
            Expr::And(mut all) => {
                all.push(other);
                Expr::And(all)
            }
            e => Expr::And(vec![e, other]),
        }
    }

    /// `self || other`.
    pub fn or(self, other: Expr) -> Expr {
        match self {
            Expr::Or(mut any) => {
                any.push(other);
                Expr::Or(any)
            }
            e => Expr::Or(vec![e, other]),
        }
    }

    /// Whether `doc` passes this filter. A non-boolean expression passes if it is `true`.
    pub fn matches(&self, doc: &Document) -> bool {
        self.eval(doc) == Some(Value::Boolean(true))
    }

    fn compare(a: &Expr, b: &Expr, doc: &Document) -> Ordering {
        a.eval(doc).cmp(&b.eval(doc))
    }

    /// Evaluates to a value; `None` is a missing field.
    fn eval(&self, doc: &Document) -> Option<Value> {
        let b = |x: bool| Some(Value::Boolean(x));
        match self {
            Expr::Field(path) => doc.get_path(path),
            Expr::Literal(v) => Some(v.clone()),
            Expr::Eq(a, c) => b(Self::compare(a, c, doc) == Ordering::Equal),
            Expr::Neq(a, c) => b(Self::compare(a, c, doc) != Ordering::Equal),
            Expr::Lt(a, c) => b(Self::compare(a, c, doc) == Ordering::Less),
            Expr::Lte(a, c) => b(Self::compare(a, c, doc) != Ordering::Greater),
            Expr::Gt(a, c) => b(Self::compare(a, c, doc) == Ordering::Greater),
            Expr::Gte(a, c) => b(Self::compare(a, c, doc) != Ordering::Less),
            Expr::And(all) => b(all.iter().all(|e| e.matches(doc))),
            Expr::Or(any) => b(any.iter().any(|e| e.matches(doc))),
            Expr::Not(e) => b(!e.matches(doc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{DocumentId, InternalId, TableNumber};

    fn doc() -> Document {
        let mut author = std::collections::BTreeMap::new();
        author.insert("name".to_string(), Value::from("ada"));
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("author".to_string(), Value::Object(author));
        fields.insert("likes".to_string(), Value::Float64(5.0));
        fields.insert("n".to_string(), Value::Int64(2));
        Document {
            id: DocumentId {
                table: TableNumber(1),
                internal: InternalId([0; 16]),
            },
            creation_time: 1.0,
            fields,
        }
    }

    #[test]
    fn comparisons_and_logic() {
        let d = doc();
        assert!(field("author.name").eq("ada").matches(&d));
        assert!(
            field("likes")
                .gt(4.0)
                .and(field("likes").lte(5.0))
                .matches(&d)
        );
        assert!(!field("likes").lt(5.0).matches(&d));
        assert!(field("likes").lt(1.0).or(field("n").eq(2i64)).matches(&d));
        assert!(not(field("likes").neq(5.0)).matches(&d));
        // int64 and float64 are different types: 2n != 2.0
        assert!(!field("n").eq(2.0).matches(&d));
        // missing fields are smaller than everything, equal only to missing
        assert!(field("missing").lt(Value::Null).matches(&d));
        assert!(field("missing").eq(field("also_missing")).matches(&d));
        assert!(field("likes").gte(field("likes")).matches(&d));
        assert!(!field("likes").matches(&d));
    }
}
