//! Small SVG plots drawn by hand, so `report.html` needs no script, stylesheet or font
//! from anywhere else. Every plot is a standalone `<svg>` element; hovering a mark shows
//! its exact figure (`<title>`).

use crate::metrics::{CalibrationBin, HistogramBin};
use std::fmt::Write as _;

/// Escapes text for XML/HTML content and attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const W: f64 = 520.0;
const H: f64 = 320.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// Plot area mapping for x in [0, x_max] and y in [0, 1].
struct Frame {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
    x_max: f64,
}

impl Frame {
    fn new() -> Self {
        Frame {
            x0: LEFT,
            x1: W - RIGHT,
            y0: H - BOTTOM,
            y1: TOP,
            x_max: 1.0,
        }
    }
    fn x(&self, v: f64) -> f64 {
        self.x0 + (v / self.x_max).clamp(0.0, 1.0) * (self.x1 - self.x0)
    }
    fn y(&self, v: f64) -> f64 {
        self.y0 - v.clamp(0.0, 1.0) * (self.y0 - self.y1)
    }
}

fn open(s: &mut String, title: &str, width: f64, height: f64) {
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="{t}" font-family="sans-serif" font-size="11"><text x="{cx:.0}" y="18" text-anchor="middle" font-size="13" font-weight="bold">{t}</text>"#,
        t = esc(title),
        cx = width / 2.0
    );
}

/// Axes from 0 to 1 with ticks every 0.2 and labels.
fn axes(s: &mut String, f: &Frame, x_label: &str, y_label: &str) {
    let _ = write!(
        s,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#999"/>"##,
        f.x0,
        f.y1,
        f.x1 - f.x0,
        f.y0 - f.y1
    );
    // Enough decimals that the x ticks (x_max / 5 apart) read differently.
    let digits = if f.x_max >= 0.5 {
        1
    } else {
        (-(f.x_max / 5.0).log10()).ceil().max(1.0) as usize
    };
    for i in 0..=5 {
        let v = i as f64 / 5.0;
        let (x, y) = (f.x(v * f.x_max), f.y(v));
        let xv = v * f.x_max;
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{xv:.digits$}</text><line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.1}</text>"##,
            f.y0,
            f.y1,
            f.y0 + 14.0,
            f.x0,
            f.x1,
            f.x0 - 4.0,
            y + 4.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="14" y="{:.1}" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
        (f.x0 + f.x1) / 2.0,
        H - 10.0,
        esc(x_label),
        (f.y0 + f.y1) / 2.0,
        (f.y0 + f.y1) / 2.0,
        esc(y_label)
    );
}

fn legend(s: &mut String, f: &Frame, entries: &[(&str, &str)]) {
    for (i, (name, color)) in entries.iter().enumerate() {
        let y = f.y1 + 10.0 + i as f64 * 18.0;
        let _ = write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="12" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            f.x1 + 12.0,
            y - 9.0,
            f.x1 + 30.0,
            y + 1.0,
            esc(name)
        );
    }
}

pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) points: Vec<(f64, f64)>,
}

/// A point to mark (the configured operating point), with its label.
pub(crate) struct Mark {
    pub(crate) x: f64,
    pub(crate) y: Option<f64>,
    pub(crate) label: String,
}

/// The smallest of 1, 2, 2.5, 5 × 10^k that is at least `v` (an axis end).
pub(crate) fn nice_ceil(v: f64) -> f64 {
    if !(v.is_finite() && v > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&c| c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * p)
}

/// Lines over x in [0, x_max] and y in [0, 1]; `mark` draws a dashed vertical line at
/// its x (and a circle at its y).
pub(crate) fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    x_max: f64,
    series: &[Series<'_>],
    mark: Option<&Mark>,
) -> String {
    let mut f = Frame::new();
    f.x_max = if x_max.is_finite() && x_max > 0.0 {
        x_max
    } else {
        1.0
    };
    let mut s = String::new();
    open(&mut s, title, W, H);
    axes(&mut s, &f, x_label, y_label);
    for (i, ser) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let pts: Vec<String> = ser
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", f.x(x), f.y(y)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            pts.join(" "),
            esc(ser.name)
        );
    }
    if let Some(m) = mark {
        let x = f.x(m.x);
        // Label on the side of the line with room for it.
        let (tx, anchor) = if m.x / f.x_max > 0.6 {
            (x - 3.0, "end")
        } else {
            (x + 3.0, "start")
        };
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333" stroke-dasharray="4 3"/><text x="{tx:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"##,
            f.y0,
            f.y1,
            f.y1 + 12.0,
            esc(&m.label)
        );
        if let Some(y) = m.y {
            let _ = write!(
                s,
                r##"<circle cx="{x:.1}" cy="{:.1}" r="5" fill="none" stroke="#000" stroke-width="2"><title>{}</title></circle>"##,
                f.y(y),
                esc(&m.label)
            );
        }
    }
    let names: Vec<(&str, &str)> = series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name, COLORS[i % COLORS.len()]))
        .collect();
    legend(&mut s, &f, &names);
    s.push_str("</svg>");
    s
}

/// Reliability diagram: accuracy per confidence bin against the diagonal, bar width =
/// the bin, bar shade = share of examples in it.
pub(crate) fn reliability(title: &str, bins: &[CalibrationBin]) -> String {
    let f = Frame::new();
    let mut s = String::new();
    open(&mut s, title, W, H);
    axes(&mut s, &f, "confidence", "accuracy");
    let total: u64 = bins.iter().map(|b| b.count).sum::<u64>().max(1);
    for b in bins {
        let (Some(acc), Some(conf)) = (b.accuracy, b.mean_confidence) else {
            continue;
        };
        let share = b.count as f64 / total as f64;
        let opacity = 0.25 + 0.75 * share.sqrt();
        let (x, w) = (f.x(b.lower), f.x(b.upper) - f.x(b.lower));
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#1f77b4" fill-opacity="{opacity:.2}" stroke="#fff"><title>confidence {:.2}–{:.2}: {} examples, mean confidence {conf:.3}, accuracy {acc:.3}</title></rect>"##,
            f.y(acc),
            w.max(0.5),
            f.y0 - f.y(acc),
            b.lower,
            b.upper,
            b.count
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#d62728" stroke-dasharray="5 3"/>"##,
        f.x(0.0),
        f.y(0.0),
        f.x(1.0),
        f.y(1.0)
    );
    legend(
        &mut s,
        &f,
        &[
            ("accuracy per bin", "#1f77b4"),
            ("perfect calibration", "#d62728"),
        ],
    );
    s.push_str("</svg>");
    s
}

/// Where the confidence of correct and of wrong predictions falls: per bin, the share of
/// all correct predictions (green) next to the share of all wrong ones (red), so the
/// wrong ones stay visible however few they are. Hovering a bar gives the count.
pub(crate) fn histogram(title: &str, bins: &[HistogramBin]) -> String {
    let f = Frame::new();
    let mut s = String::new();
    open(&mut s, title, W, H);
    let correct: u64 = bins.iter().map(|b| b.correct).sum::<u64>().max(1);
    let wrong: u64 = bins.iter().map(|b| b.wrong).sum::<u64>().max(1);
    let share = |n: u64, of: u64| n as f64 / of as f64;
    let max = bins
        .iter()
        .map(|b| share(b.correct, correct).max(share(b.wrong, wrong)))
        .fold(0.0, f64::max)
        .max(1e-9);
    // Round the y range up to a tenth so the tick labels are round shares.
    let top = ((max * 10.0).ceil() / 10.0).min(1.0);
    let _ = write!(
        s,
        r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="none" stroke="#999"/>"##,
        f.x0,
        f.y1,
        f.x1 - f.x0,
        f.y0 - f.y1
    );
    for i in 0..=5 {
        let v = i as f64 / 5.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{v:.1}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{:.0}%</text>"#,
            f.x(v),
            f.y0 + 14.0,
            f.x0 - 4.0,
            f.y(v) + 4.0,
            v * top * 100.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">confidence</text><text x="14" y="{:.1}" text-anchor="middle" transform="rotate(-90 14 {:.1})">share of group</text>"#,
        (f.x0 + f.x1) / 2.0,
        H - 10.0,
        (f.y0 + f.y1) / 2.0,
        (f.y0 + f.y1) / 2.0
    );
    for b in bins {
        let w = ((f.x(b.upper) - f.x(b.lower)) / 2.0 - 0.5).max(0.5);
        for (k, (n, of, color, what)) in [
            (b.correct, correct, "#2ca02c", "correct"),
            (b.wrong, wrong, "#d62728", "wrong"),
        ]
        .into_iter()
        .enumerate()
        {
            let h = share(n, of) / top;
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{color}"><title>{:.2}–{:.2}: {n} {what} ({:.1}% of {what})</title></rect>"#,
                f.x(b.lower) + k as f64 * (w + 0.5),
                f.y(h),
                f.y0 - f.y(h),
                b.lower,
                b.upper,
                share(n, of) * 100.0
            );
        }
    }
    legend(&mut s, &f, &[("correct", "#2ca02c"), ("wrong", "#d62728")]);
    s.push_str("</svg>");
    s
}

/// Confusion heatmap: rows gold, columns predicted, shade = share of the gold row.
/// Correct cells are blue, confusions red. Only non-empty cells are drawn, so a
/// 151-label matrix stays small.
pub(crate) fn heatmap(title: &str, labels: &[String], matrix: &[Vec<u64>]) -> String {
    let n = labels.len().max(1);
    let cell = (640.0 / n as f64).clamp(3.0, 18.0);
    let named = n <= 40;
    let margin = if named { 170.0 } else { 40.0 };
    let side = cell * n as f64;
    let (width, height) = (margin + side + 20.0, margin + side + 20.0);
    let mut s = String::new();
    open(&mut s, title, width.max(300.0), height);
    let (ox, oy) = (margin, margin);
    let _ = write!(
        s,
        r##"<rect x="{ox:.1}" y="{oy:.1}" width="{side:.1}" height="{side:.1}" fill="#fafafa" stroke="#999"/>"##
    );
    if named {
        for (i, l) in labels.iter().enumerate() {
            let c = (i as f64 + 0.5) * cell;
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="9">{}</text><text x="{:.1}" y="{:.1}" font-size="9" transform="rotate(-60 {:.1} {:.1})">{}</text>"#,
                ox - 4.0,
                oy + c + 3.0,
                esc(l),
                ox + c,
                oy - 4.0,
                ox + c,
                oy - 4.0,
                esc(l)
            );
        }
    } else {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">predicted →</text><text x="{:.1}" y="{:.1}" text-anchor="middle" transform="rotate(-90 {:.1} {:.1})">gold →</text>"#,
            ox + side / 2.0,
            oy - 8.0,
            ox - 10.0,
            oy + side / 2.0,
            ox - 10.0,
            oy + side / 2.0
        );
    }
    for (g, row) in matrix.iter().enumerate() {
        let total: u64 = row.iter().sum();
        if total == 0 {
            continue;
        }
        for (p, &count) in row.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let share = count as f64 / total as f64;
            let color = if g == p { "#1f77b4" } else { "#d62728" };
            let gl = labels.get(g).map(String::as_str).unwrap_or("?");
            let pl = labels.get(p).map(String::as_str).unwrap_or("?");
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{cell:.1}" height="{cell:.1}" fill="{color}" fill-opacity="{:.2}"><title>{} → {}: {count} ({:.0}% of {})</title></rect>"#,
                ox + p as f64 * cell,
                oy + g as f64 * cell,
                0.15 + 0.85 * share,
                esc(gl),
                esc(pl),
                share * 100.0,
                esc(gl)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars in [0, 1] (channel comparison).
pub(crate) fn bars(title: &str, items: &[(String, f64)]) -> String {
    let row = 24.0;
    let (label_w, bar_w) = (130.0, 300.0);
    let height = 40.0 + row * items.len() as f64 + 10.0;
    let mut s = String::new();
    open(&mut s, title, label_w + bar_w + 80.0, height);
    for (i, (name, v)) in items.iter().enumerate() {
        let y = 34.0 + i as f64 * row;
        let w = v.clamp(0.0, 1.0) * bar_w;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{label_w:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}">{v:.4}</text>"##,
            label_w - 6.0,
            y + 14.0,
            esc(name),
            row - 6.0,
            COLORS[0],
            label_w + w + 4.0,
            y + 14.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_draws_only_nonzero_cells() {
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
        let labels: Vec<String> = vec!["x<y".into(), "b".into()];
        let svg = heatmap("t", &labels, &[vec![3, 1], vec![0, 2]]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<title>").count(), 3);
        assert!(svg.contains("x&lt;y → b: 1 (25% of x&lt;y)"), "{svg}");
        assert_eq!(nice_ceil(0.013), 0.02);
        assert_eq!(nice_ceil(0.2), 0.2);
        assert_eq!(nice_ceil(0.21), 0.25);
        assert_eq!(nice_ceil(0.0), 1.0);
        let chart = line_chart(
            "c",
            "x",
            "y",
            1.0,
            &[Series {
                name: "s",
                points: vec![(0.0, 0.0), (1.0, f64::NAN), (1.0, 1.0)],
            }],
            Some(&Mark {
                x: 0.5,
                y: Some(0.5),
                label: "configured 0.50".into(),
            }),
        );
        assert!(chart.contains("stroke-dasharray") && chart.contains("<circle"));
        assert!(!chart.contains("NaN"));
    }
}
