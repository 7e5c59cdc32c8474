//! `report.html`: one self-contained page (inline CSS and SVG, no script, nothing
//! fetched), so it can be attached to a CI run or mailed and still render.

use super::doc::{build, Block};
use super::svg::esc;
use super::EvalReport;

const STYLE: &str =
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:0.5em 0 1.2em;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}\
h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:2em}\
svg{display:block;margin:0.5em 0 1.5em;max-width:100%;height:auto}\
code{background:#f3f3f3;padding:0 3px}";

/// Inline Markdown the report uses: `code` and **bold**, on already-escaped text.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let escaped = esc(s);
    let mut code = false;
    for (i, part) in escaped.split('`').enumerate() {
        if i > 0 {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
        }
        if code {
            out.push_str(part);
        } else {
            let mut bold = false;
            for (j, p) in part.split("**").enumerate() {
                if j > 0 {
                    out.push_str(if bold { "</b>" } else { "<b>" });
                    bold = !bold;
                }
                out.push_str(p);
            }
            if bold {
                out.push_str("</b>");
            }
        }
    }
    if code {
        out.push_str("</code>");
    }
    out
}

pub(crate) fn render(report: &EvalReport) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>triage eval: {}</title><style>{STYLE}</style></head><body>\n",
        esc(&report.suite)
    );
    for block in build(report) {
        match block {
            Block::Heading(level, text) => {
                out.push_str(&format!("<h{level}>{}</h{level}>\n", inline(&text)));
            }
            Block::Para(text) => out.push_str(&format!("<p>{}</p>\n", inline(&text))),
            Block::List(items) => {
                out.push_str("<ul>");
                for i in items {
                    out.push_str(&format!("<li>{}</li>", inline(&i)));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(t) => {
                out.push_str("<table><thead><tr>");
                for h in &t.header {
                    out.push_str(&format!("<th>{}</th>", inline(h)));
                }
                out.push_str("</tr></thead><tbody>");
                for r in &t.rows {
                    out.push_str("<tr>");
                    for c in r {
                        out.push_str(&format!("<td>{}</td>", inline(c)));
                    }
                    out.push_str("</tr>");
                }
                out.push_str("</tbody></table>\n");
            }
            Block::Plot(svg) => {
                out.push_str(&svg);
                out.push('\n');
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_markup_is_escaped_first() {
        assert_eq!(inline("a `<b>` **c**"), "a <code>&lt;b&gt;</code> <b>c</b>");
        assert_eq!(inline("unclosed `x"), "unclosed <code>x</code>");
    }
}
