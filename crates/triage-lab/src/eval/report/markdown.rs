//! `report.md`: the report's tables as GitHub-flavoured Markdown (plots are in the HTML).

use super::doc::{build, Block};
use super::EvalReport;

/// Keeps a cell on one line and its pipes literal.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

pub(crate) fn render(report: &EvalReport) -> String {
    let mut out = String::new();
    let mut plots = 0;
    for block in build(report) {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&"#".repeat(level as usize));
                out.push(' ');
                out.push_str(&text);
                out.push_str("\n\n");
            }
            Block::Para(text) => {
                out.push_str(&text);
                out.push_str("\n\n");
            }
            Block::List(items) => {
                for i in items {
                    out.push_str("- ");
                    out.push_str(&cell(&i));
                    out.push('\n');
                }
                out.push('\n');
            }
            Block::Table(t) => {
                let line = |cells: &[String]| {
                    let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
                    format!("| {} |\n", cells.join(" | "))
                };
                out.push_str(&line(&t.header));
                out.push_str(&format!("|{}\n", "---|".repeat(t.header.len())));
                for r in &t.rows {
                    out.push_str(&line(r));
                }
                out.push('\n');
            }
            Block::Plot(_) => plots += 1,
        }
    }
    if plots > 0 {
        out.push_str(&format!(
            "_{plots} plots (confusion heatmaps, reliability diagrams, sweep curves) are in report.html._\n"
        ));
    }
    out
}
