//! A [`Comparison`] drawn for people: the expected tree beside the actual one, the first
//! mismatch marked `>` (later ones `!`), what is wrong at the end of each line, then the list
//! of mismatches. Colour only when asked ([`color_for`] decides for a stream).
//!
//! ```text
//!   expected                    | actual
//!   app-a SERVER GET /          | app-a SERVER GET /
//!     app-a CLIENT GET          |   app-a CLIENT GET
//! >     app-b SERVER GET /      |     app-b SERVER GET /    <- status unset, expected error
//! ```

use std::fmt::Write as _;
use std::io::IsTerminal;

use crate::check::Comparison;

/// Widest a column gets; longer labels are cut with `…`.
const MAX_COLUMN: usize = 56;

const RED: &str = "\x1b[31m";
const BOLD_RED: &str = "\x1b[1;31m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// Whether to colour text for a stream: it is a terminal and `NO_COLOR` is unset.
pub fn color_for(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The side-by-side view and the list of mismatches.
pub fn render(comparison: &Comparison, color: bool) -> String {
    let label = |text: Option<&str>, depth: usize, absent: &str| {
        let text = text.unwrap_or(absent);
        let mut cell = format!("{:indent$}{text}", "", indent = depth * 2);
        if cell.chars().count() > MAX_COLUMN {
            cell = cell.chars().take(MAX_COLUMN - 1).collect::<String>() + "…";
        }
        cell
    };
    let cells: Vec<(String, String)> = comparison
        .rows
        .iter()
        .map(|row| {
            (
                label(row.expected.as_deref(), row.depth, "(not in the shape)"),
                label(row.actual.as_deref(), row.depth, "(missing)"),
            )
        })
        .collect();
    let width = |pick: fn(&(String, String)) -> &String| {
        cells
            .iter()
            .map(|c| pick(c).chars().count())
            .max()
            .unwrap_or(0)
            .max("expected".len())
    };
    let (left, right) = (width(|c| &c.0), width(|c| &c.1));

    let mut out = String::new();
    let _ = writeln!(out, "  {:left$} | actual", "expected");
    let mut first = true;
    for (row, (expected, actual)) in comparison.rows.iter().zip(&cells) {
        let bad = !row.problems.is_empty();
        let mark = match (bad, first) {
            (false, _) => "  ",
            (true, true) => "> ",
            (true, false) => "! ",
        };
        let mut line = format!("{mark}{expected:left$} | {actual:right$}");
        if bad {
            let _ = write!(line, "  <- {}", row.problems.join("; "));
        }
        let line = line.trim_end();
        match (color, bad, first) {
            (true, true, true) => {
                let _ = writeln!(out, "{BOLD_RED}{line}{RESET}");
            }
            (true, true, false) => {
                let _ = writeln!(out, "{RED}{line}{RESET}");
            }
            (true, false, _) => {
                let _ = writeln!(out, "{DIM}{line}{RESET}");
            }
            (false, _, _) => {
                let _ = writeln!(out, "{line}");
            }
        }
        first &= !bad;
    }
    if comparison.rows_left_out > 0 {
        let _ = writeln!(out, "  … {} more rows not shown", comparison.rows_left_out);
    }
    let problems = comparison.problems();
    if !problems.is_empty() {
        let _ = writeln!(out, "{} mismatch(es):", problems.len());
        for problem in problems.iter().take(50) {
            let _ = writeln!(out, "  - {problem}");
        }
        if problems.len() > 50 {
            let _ = writeln!(out, "  … and {} more", problems.len() - 50);
        }
    }
    out
}
