//! The content of `report.md` and `report.html`, built once as a list of blocks so both
//! files always show the same tables (the HTML adds the plots).

use super::svg::{self, Mark, Series};
use super::{fmt4, EvalReport, TaskReport};
use crate::eval::channels::ChannelVariant;
use crate::eval::emotion::EmotionEval;
use crate::eval::gate::Bound;
use crate::eval::handoff::HandoffEval;
use crate::eval::intent::IntentEval;
use crate::eval::retrieval::RetrievalTaskEval;
use crate::eval::suite::TaskKind;
use crate::metrics::{LabelMetrics, MultiLabelReport};
use triage_core::model::HeadKind;

pub(crate) enum Block {
    Heading(u8, String),
    Para(String),
    List(Vec<String>),
    Table(Table),
    /// An inline SVG plot (HTML only).
    Plot(String),
}

pub(crate) struct Table {
    pub(crate) header: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }
    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// Thresholds shown in sweep tables: every 0.1 and the marked one.
fn shown(t: f64, marked: Option<f64>) -> bool {
    // Thresholds may come from f32 (0.1f32 = 0.10000000149): compare loosely.
    let tenth = (t * 10.0 - (t * 10.0).round()).abs() < 1e-6;
    tenth || marked.is_some_and(|m| (m - t).abs() < 1e-6)
}

pub(crate) fn build(r: &EvalReport) -> Vec<Block> {
    let mut b = vec![Block::Heading(1, format!("Evaluation report: {}", r.suite))];
    let bundles: Vec<String> = r
        .bundles()
        .iter()
        .map(|x| format!("{} {} (`{}`)", x.name, x.version, x.path))
        .collect();
    b.push(Block::List(vec![
        format!("created: {}", r.created),
        format!("code commit: `{}`", r.code_commit),
        format!("triage {}", r.triage_version),
        format!("bundles: {}", bundles.join(", ")),
        format!(
            "seed {}; {}",
            r.seed,
            match r.limit {
                Some(l) => format!("at most {l} examples per task (stable sample by text hash)"),
                None => "full data".into(),
            }
        ),
        format!("run time: {:.1} s", r.seconds),
        format!(
            "gate: **{}** ({} checks, {} failed)",
            if r.gate.passed { "passed" } else { "FAILED" },
            r.gate.checks.len(),
            r.gate.failures().count()
        ),
    ]));

    summary(r, &mut b);
    channels(r, &mut b);
    gate(r, &mut b);
    for t in &r.tasks {
        task(t, &mut b);
    }
    if let Some(h) = &r.handoff {
        handoff(&h.eval, &mut b);
    }
    b
}

fn summary(r: &EvalReport, b: &mut Vec<Block>) {
    let classification: Vec<&TaskReport> = r
        .tasks
        .iter()
        .filter(|t| t.task_kind == TaskKind::Classification)
        .collect();
    let retrieval: Vec<&TaskReport> = r
        .tasks
        .iter()
        .filter(|t| t.task_kind == TaskKind::Retrieval)
        .collect();
    if classification.is_empty() && retrieval.is_empty() {
        return;
    }
    b.push(Block::Heading(2, "Summary".into()));
    if !retrieval.is_empty() {
        retrieval_summary(&retrieval, b);
    }
    if classification.is_empty() {
        return;
    }
    let mut t = Table::new(&[
        "task",
        "data",
        "head",
        "bundle",
        "n",
        "accuracy",
        "macro F1",
        "micro F1",
        "weighted F1",
        "ECE",
        "OOS recall",
        "OOS AUROC",
    ]);
    for task in classification {
        let f = |k: &str| fmt4(task.figures.get(k).copied());
        t.row(vec![
            task.name.clone(),
            format!("`{}`", task.data),
            format!("`{}`", task.head),
            format!("{} {}", task.bundle.name, task.bundle.version),
            task.n_examples.to_string(),
            f("accuracy"),
            f("macro_f1"),
            f("micro_f1"),
            f("weighted_f1"),
            f("ece"),
            f("oos_recall"),
            f("oos_auroc"),
        ]);
    }
    b.push(Block::Table(t));
    emotion_summary(r, b);
    if let Some(h) = &r.handoff {
        let p = &h.eval.at_threshold;
        b.push(Block::Para(format!(
            "Handoff simulation at confidence threshold {:.2} ({}): containment {}, wrong-answer rate {}, handoff precision {}, handoff recall {}.",
            h.eval.threshold,
            h.eval.decider,
            pct(p.containment),
            pct(p.wrong_answer_rate),
            pct(p.handoff_precision),
            pct(p.handoff_recall)
        )));
    }
}

/// Emotion-head tasks: the group and sentiment figures that the main table has no room
/// for, and which are the meaningful ones for zero-shot sets labelled in groups
/// (SMP2020) or only with a sentiment (ChnSentiCorp).
fn emotion_summary(r: &EvalReport, b: &mut Vec<Block>) {
    let tasks: Vec<&TaskReport> = r
        .tasks
        .iter()
        .filter(|t| t.task_kind == TaskKind::Classification && t.kind == HeadKind::Sigmoid)
        .collect();
    if tasks.is_empty() {
        return;
    }
    let mut t = Table::new(&[
        "task",
        "n",
        "Ekman macro F1",
        "Ekman macro F1 (gold groups)",
        "sentiment accuracy",
        "polar sentiment accuracy",
        "frustration AUROC",
    ]);
    for task in tasks {
        let f = |k: &str| fmt4(task.figures.get(k).copied());
        t.row(vec![
            task.name.clone(),
            task.n_examples.to_string(),
            f("ekman.macro_f1"),
            f("ekman.gold_macro_f1"),
            f("sentiment.accuracy"),
            f("sentiment.polar_accuracy"),
            f("frustration_auroc"),
        ]);
    }
    b.push(Block::Table(t));
}

fn retrieval_summary(tasks: &[&TaskReport], b: &mut Vec<Block>) {
    let mut t = Table::new(&[
        "retrieval task",
        "data",
        "knowledge base",
        "boost head",
        "n",
        "Recall@1",
        "Recall@3",
        "Recall@10",
        "MRR",
        "voice R@1",
        "social R@1",
    ]);
    for task in tasks {
        let f = |k: &str| fmt4(task.figures.get(k).copied());
        t.row(vec![
            task.name.clone(),
            format!("`{}`", task.data),
            task.retrieval
                .as_ref()
                .map(|r| format!("`{}` ({} articles)", r.kb, r.articles))
                .unwrap_or_default(),
            format!("`{}`", task.head),
            task.n_examples.to_string(),
            f("recall_at_1"),
            f("recall_at_3"),
            f("recall_at_10"),
            f("mrr"),
            f("voice.recall_at_1"),
            f("social.recall_at_1"),
        ]);
    }
    b.push(Block::Table(t));
}

fn channels(r: &EvalReport, b: &mut Vec<Block>) {
    let with: Vec<&TaskReport> = r.tasks.iter().filter(|t| t.channels.len() > 1).collect();
    if with.is_empty() {
        return;
    }
    b.push(Block::Heading(2, "Channels: robustness gap".into()));
    b.push(Block::Para(
        "The same examples as clean text, as voice transcripts (`voice_style`) and as social posts (`social_style`), each normalised by that channel's serving normaliser. Gap = clean minus channel (positive = worse on the channel).".into(),
    ));
    let mut t = Table::new(&[
        "task",
        "figure",
        "clean",
        "voice",
        "voice gap",
        "social",
        "social gap",
    ]);
    for task in with {
        let get = |v: ChannelVariant| task.channels.iter().find(|c| c.channel == v);
        let cell = |v: ChannelVariant, gap: bool| {
            get(v)
                .map(|c| fmt4(Some(if gap { c.gap } else { c.value })))
                .unwrap_or_else(|| "–".into())
        };
        t.row(vec![
            task.name.clone(),
            task.channels
                .first()
                .map(|c| c.primary.clone())
                .unwrap_or_default(),
            cell(ChannelVariant::Clean, false),
            cell(ChannelVariant::Voice, false),
            cell(ChannelVariant::Voice, true),
            cell(ChannelVariant::Social, false),
            cell(ChannelVariant::Social, true),
        ]);
    }
    b.push(Block::Table(t));
}

fn gate(r: &EvalReport, b: &mut Vec<Block>) {
    if r.gate.checks.is_empty() {
        return;
    }
    b.push(Block::Heading(2, "Gate".into()));
    let mut t = Table::new(&["task", "figure", "bound", "limit", "value", "result"]);
    for c in &r.gate.checks {
        t.row(vec![
            c.task.clone(),
            c.metric.clone(),
            match c.bound {
                Bound::Floor => "floor (≥)".into(),
                Bound::Ceiling => "ceiling (≤)".into(),
            },
            fmt4(Some(c.limit)),
            fmt4(c.value),
            if c.passed {
                "pass".into()
            } else {
                "**FAIL**".into()
            },
        ]);
    }
    b.push(Block::Table(t));
}

fn task(t: &TaskReport, b: &mut Vec<Block>) {
    b.push(Block::Heading(2, format!("Task {}", t.name)));
    let mut facts = vec![
        format!(
            "data: `{}` ({} examples; {} without a label left out)",
            t.data, t.n_examples, t.n_unlabelled
        ),
        if t.task_kind == TaskKind::Retrieval {
            format!(
                "knowledge-base search; intent boost from head `{}`, as in serving",
                t.head
            )
        } else {
            format!(
                "head: `{}` ({})",
                t.head,
                if t.kind == HeadKind::Softmax {
                    "softmax"
                } else {
                    "sigmoid"
                }
            )
        },
        format!(
            "bundle: {} {} (`{}`)",
            t.bundle.name, t.bundle.version, t.bundle.path
        ),
        format!("run time: {:.1} s", t.seconds),
    ];
    if !t.label_map.is_empty() {
        facts.push(format!(
            "gold relabelled before scoring (data label → head label): {}",
            crate::eval::relabel::describe(&t.label_map)
        ));
    }
    if let Some(h) = &t.trained_head {
        facts.push(format!(
            "head trained by this suite on `{}` (frozen encoder, head-only): {} examples, dev {} = {}",
            h.get("data").and_then(|v| v.as_str()).unwrap_or("?"),
            h.get("train_examples").and_then(|v| v.as_u64()).unwrap_or(0),
            h.get("dev_metric").and_then(|v| v.as_str()).unwrap_or("?"),
            fmt4(h.get("dev_value").and_then(|v| v.as_f64()))
        ));
    }
    b.push(Block::List(facts));
    if let Some(e) = &t.intent {
        intent(t, e, b);
    }
    if let Some(e) = &t.emotion {
        emotion(e, b);
    }
    if let Some(e) = &t.retrieval {
        retrieval(t, e, b);
    }
    let transformed: Vec<_> = t
        .channels
        .iter()
        .filter(|c| !c.examples.is_empty())
        .collect();
    if !transformed.is_empty() {
        b.push(Block::Heading(3, "Channel transforms".into()));
        let mut items = Vec::new();
        for c in &t.channels {
            items.push(format!(
                "{}: {} {} (gap {})",
                c.channel.as_str(),
                c.primary,
                fmt4(Some(c.value)),
                fmt4(Some(c.gap))
            ));
        }
        b.push(Block::List(items));
        b.push(Block::Plot(svg::bars(
            &format!("{}: {} by channel", t.name, t.channels[0].primary),
            &t.channels
                .iter()
                .map(|c| (c.channel.as_str().to_string(), c.value))
                .collect::<Vec<_>>(),
        )));
        let mut ex = Vec::new();
        for c in transformed {
            for e in &c.examples {
                ex.push(format!("{}: {}", c.channel.as_str(), e));
            }
        }
        b.push(Block::Para("Examples of transformed texts:".into()));
        b.push(Block::List(ex));
    }
}

fn retrieval(t: &TaskReport, e: &RetrievalTaskEval, b: &mut Vec<Block>) {
    let mut facts = vec![
        format!(
            "knowledge base: `{}`, {} articles (content sha256 `{}`)",
            e.kb,
            e.articles,
            &e.kb_content_hash[..16.min(e.kb_content_hash.len())]
        ),
        "gold: the articles tagged with the query's intent; rank of the first of them in an agent-mode search".into(),
    ];
    if !e.uncovered_intents.is_empty() {
        facts.push(format!(
            "intents no article is tagged with (their queries always miss): {}",
            e.uncovered_intents.join(", ")
        ));
    }
    for issue in &e.kb_issues {
        facts.push(format!("article left out: {issue}"));
    }
    b.push(Block::List(facts));
    b.push(Block::Heading(3, "Figures".into()));
    let mut ft = Table::new(&[
        "channel",
        "n",
        "Recall@1",
        "Recall@3",
        "Recall@5",
        "Recall@10",
        "MRR",
        "not found",
    ]);
    for c in &t.channels {
        let f = |k: &str| fmt4(c.figures.get(k).copied());
        ft.row(vec![
            c.channel.as_str().to_string(),
            c.figures
                .get("n")
                .map(|n| format!("{n}"))
                .unwrap_or_default(),
            f("recall_at_1"),
            f("recall_at_3"),
            f("recall_at_5"),
            f("recall_at_10"),
            f("mrr"),
            c.figures
                .get("not_found")
                .map(|n| format!("{n}"))
                .unwrap_or_default(),
        ]);
    }
    b.push(Block::Table(ft));
    if !e.misses.is_empty() {
        b.push(Block::Heading(
            3,
            "Not ranked first (clean, first few)".into(),
        ));
        let mut mt = Table::new(&["query", "gold intent", "gold rank", "first instead"]);
        for m in &e.misses {
            mt.row(vec![
                m.text.clone(),
                m.intent.clone(),
                m.rank.map_or("–".into(), |r| r.to_string()),
                m.top.clone().unwrap_or_else(|| "–".into()),
            ]);
        }
        b.push(Block::Table(mt));
    }
}

fn per_label_table(per_label: &[LabelMetrics], thresholds: Option<&[f32]>) -> Table {
    let mut t = if thresholds.is_some() {
        Table::new(&[
            "label",
            "threshold",
            "precision",
            "recall",
            "F1",
            "support",
            "predicted",
        ])
    } else {
        Table::new(&["label", "precision", "recall", "F1", "support", "predicted"])
    };
    for (i, m) in per_label.iter().enumerate() {
        let mut row = vec![m.label.clone()];
        if let Some(th) = thresholds {
            row.push(
                th.get(i)
                    .map(|v| format!("{v:.2}"))
                    .unwrap_or_else(|| "–".into()),
            );
        }
        row.extend([
            fmt4(Some(m.precision)),
            fmt4(Some(m.recall)),
            fmt4(Some(m.f1)),
            m.support.to_string(),
            m.predicted.to_string(),
        ]);
        t.row(row);
    }
    t
}

fn intent(t: &TaskReport, e: &IntentEval, b: &mut Vec<Block>) {
    let c = &e.classification;
    b.push(Block::Heading(3, "Figures".into()));
    let mut ft = Table::new(&["figure", "value"]);
    for (k, v) in [
        ("accuracy", c.accuracy),
        ("macro precision", c.macro_precision),
        ("macro recall", c.macro_recall),
        ("macro F1", c.macro_f1),
        ("micro F1", c.micro_f1),
        ("weighted F1", c.weighted_f1),
        ("ECE (15 bins)", e.calibration.ece),
        ("MCE", e.calibration.mce),
    ] {
        ft.row(vec![k.into(), fmt4(Some(v))]);
    }
    b.push(Block::Table(ft));
    if !e.unknown_gold_labels.is_empty() {
        b.push(Block::Para(format!(
            "Gold labels the head does not know (always wrong): {}.",
            e.unknown_gold_labels.join(", ")
        )));
    }
    if let Some(o) = &e.out_of_scope {
        b.push(Block::Heading(3, "Out of scope".into()));
        let r = &o.report;
        b.push(Block::List(vec![
            format!(
                "operating point: label `{}`{}",
                o.label,
                o.operating_threshold
                    .map(|t| format!(", or confidence below {t:.2}"))
                    .unwrap_or_default()
            ),
            format!(
                "in-scope accuracy {} on {} in-scope examples",
                fmt4(Some(r.in_scope_accuracy)),
                r.n_in_scope
            ),
            format!(
                "out-of-scope recall {}, precision {}, F1 {} ({} gold, {} predicted)",
                fmt4(Some(r.oos_recall)),
                fmt4(Some(r.oos_precision)),
                fmt4(Some(r.oos_f1)),
                r.n_oos,
                r.n_pred_oos
            ),
            format!(
                "AUROC of the out-of-scope score (1 − max in-scope probability): {}",
                fmt4(o.auroc)
            ),
        ]));
        let marked = o.operating_threshold;
        let mut st = Table::new(&[
            "threshold",
            "in-scope accuracy",
            "OOS recall",
            "OOS precision",
            "predicted OOS",
        ]);
        for p in o.sweep.iter().filter(|p| shown(p.threshold, marked)) {
            let star = if marked.is_some_and(|m| (m - p.threshold).abs() < 1e-6) {
                " (bundle)"
            } else {
                ""
            };
            st.row(vec![
                format!("{:.2}{star}", p.threshold),
                fmt4(Some(p.in_scope_accuracy)),
                fmt4(Some(p.oos_recall)),
                fmt4(Some(p.oos_precision)),
                p.n_pred_oos.to_string(),
            ]);
        }
        b.push(Block::Table(st));
        b.push(Block::Plot(svg::line_chart(
            &format!("{}: out-of-scope threshold sweep", t.name),
            "confidence threshold",
            "figure",
            1.0,
            &[
                Series {
                    name: "in-scope accuracy",
                    points: o
                        .sweep
                        .iter()
                        .map(|p| (p.threshold, p.in_scope_accuracy))
                        .collect(),
                },
                Series {
                    name: "OOS recall",
                    points: o
                        .sweep
                        .iter()
                        .map(|p| (p.threshold, p.oos_recall))
                        .collect(),
                },
                Series {
                    name: "OOS precision",
                    points: o
                        .sweep
                        .iter()
                        .map(|p| (p.threshold, p.oos_precision))
                        .collect(),
                },
            ],
            marked
                .map(|m| Mark {
                    x: m,
                    y: None,
                    label: format!("bundle {m:.2}"),
                })
                .as_ref(),
        )));
    }
    b.push(Block::Heading(3, "Most frequent confusions".into()));
    if e.top_confusions.is_empty() {
        b.push(Block::Para("None.".into()));
    } else {
        let mut ct = Table::new(&["gold", "predicted", "count"]);
        for x in &e.top_confusions {
            ct.row(vec![x.gold.clone(), x.pred.clone(), x.count.to_string()]);
        }
        b.push(Block::Table(ct));
    }
    b.push(Block::Plot(svg::heatmap(
        &format!(
            "{}: confusion matrix (rows gold, columns predicted)",
            t.name
        ),
        &c.labels,
        &c.confusion_matrix,
    )));
    b.push(Block::Heading(3, "Calibration".into()));
    b.push(Block::Para(format!(
        "Top-1 probability against top-1 correctness (before the out-of-scope threshold), {} equal-width bins: ECE {}, MCE {}.",
        e.calibration.n_bins,
        fmt4(Some(e.calibration.ece)),
        fmt4(Some(e.calibration.mce))
    )));
    let mut cal = Table::new(&[
        "confidence",
        "examples",
        "mean confidence",
        "accuracy",
        "correct",
        "wrong",
    ]);
    for bin in e.calibration.bins.iter().filter(|x| x.count > 0) {
        let correct = bin
            .accuracy
            .map(|a| (a * bin.count as f64).round() as u64)
            .unwrap_or(0);
        cal.row(vec![
            format!("{:.3}–{:.3}", bin.lower, bin.upper),
            bin.count.to_string(),
            fmt4(bin.mean_confidence),
            fmt4(bin.accuracy),
            correct.to_string(),
            (bin.count - correct).to_string(),
        ]);
    }
    b.push(Block::Table(cal));
    b.push(Block::Plot(svg::reliability(
        &format!("{}: reliability diagram", t.name),
        &e.calibration.bins,
    )));
    b.push(Block::Plot(svg::histogram(
        &format!(
            "{}: where correct and wrong predictions' confidence falls",
            t.name
        ),
        &e.confidence_histogram,
    )));
    b.push(Block::Heading(3, "Per label".into()));
    b.push(Block::Table(per_label_table(&c.per_label, None)));
    b.push(Block::Para(format!(
        "{} misclassified examples are in `{}/intent_errors.json`; per-label figures in Rasa's format in `{}/intent_report.json`.",
        e.errors.len(),
        t.name,
        t.name
    )));
}

fn group_table(name: &str, r: &MultiLabelReport, b: &mut Vec<Block>) {
    b.push(Block::Heading(3, name.to_string()));
    b.push(Block::Para(format!(
        "macro F1 {}, micro F1 {}, weighted F1 {}, subset accuracy {}.",
        fmt4(Some(r.macro_f1)),
        fmt4(Some(r.micro_f1)),
        fmt4(Some(r.weighted_f1)),
        fmt4(Some(r.subset_accuracy))
    )));
    b.push(Block::Table(per_label_table(&r.per_label, None)));
}

fn emotion(e: &EmotionEval, b: &mut Vec<Block>) {
    let l = e.labels.as_ref();
    b.push(Block::Heading(3, "Figures".into()));
    let mut ft = Table::new(&["figure", "value"]);
    for (k, v) in [
        ("macro F1", l.map(|l| l.macro_f1)),
        ("micro F1", l.map(|l| l.micro_f1)),
        ("weighted F1", l.map(|l| l.weighted_f1)),
        ("macro precision", l.map(|l| l.macro_precision)),
        ("macro recall", l.map(|l| l.macro_recall)),
        ("subset accuracy", l.map(|l| l.subset_accuracy)),
        ("Hamming loss", l.map(|l| l.hamming_loss)),
        ("Ekman macro F1", e.ekman.as_ref().map(|x| x.macro_f1)),
        (
            "Ekman macro F1, groups present in gold only",
            e.ekman_gold_macro_f1,
        ),
        (
            "sentiment-group macro F1",
            e.sentiment_groups.as_ref().map(|x| x.macro_f1),
        ),
        (
            "sentiment accuracy",
            e.sentiment.as_ref().map(|x| x.accuracy),
        ),
        (
            "sentiment polar accuracy",
            e.polar.as_ref().map(|x| x.accuracy),
        ),
        ("frustration AUROC", e.frustration_auroc),
    ] {
        ft.row(vec![k.into(), fmt4(v)]);
    }
    b.push(Block::Table(ft));
    if !e.unknown_gold_labels.is_empty() {
        b.push(Block::Para(format!(
            "Gold labels the head does not know (ignored): {}.",
            e.unknown_gold_labels.join(", ")
        )));
    }
    if let Some(l) = l {
        b.push(Block::Heading(
            3,
            "Per label, at the bundle's thresholds".into(),
        ));
        b.push(Block::Table(per_label_table(&l.per_label, None)));
        b.push(Block::Plot(svg::bars(
            "F1 per emotion label",
            &l.per_label
                .iter()
                .map(|m| (m.label.clone(), m.f1))
                .collect::<Vec<_>>(),
        )));
    } else {
        b.push(Block::Para(
            "The records carry no emotion labels: only the sentiment is scored.".into(),
        ));
    }
    if let Some(g) = &e.ekman {
        group_table("Ekman groups (derived from the predicted labels)", g, b);
    }
    if let Some(g) = &e.sentiment_groups {
        group_table("Sentiment groups (derived from the predicted labels)", g, b);
    }
    if let Some(s) = &e.sentiment {
        b.push(Block::Heading(3, "Sentiment label".into()));
        b.push(Block::Para(format!(
            "The served `sentiment.label` against the record's sentiment ({} examples; serving never answers `ambiguous`): accuracy {}, macro F1 {}.",
            s.n_samples,
            fmt4(Some(s.accuracy)),
            fmt4(Some(s.macro_f1))
        )));
        b.push(Block::Table(per_label_table(&s.per_label, None)));
    }
    if let Some(p) = &e.polar {
        b.push(Block::Heading(3, "Polar sentiment".into()));
        b.push(Block::Para(format!(
            "Positive vs negative by the sign of the served sentiment score (strongest positive-group label minus strongest negative-group label; no neutral band) on the {} records whose gold sentiment is positive or negative: accuracy {}, positive recall {}, negative recall {}; {} records scored exactly 0 (counted wrong).",
            p.n,
            fmt4(Some(p.accuracy)),
            fmt4(Some(p.positive_recall)),
            fmt4(Some(p.negative_recall)),
            p.ties
        )));
    }
}

fn handoff(h: &HandoffEval, b: &mut Vec<Block>) {
    b.push(Block::Heading(2, "Handoff simulation".into()));
    b.push(Block::Para(format!(
        "{} requests from the {} splits, sent as `/v1/classify` requests for intent set `{}`; decided by: {} (configured threshold {:.2}). Containment and wrong-answer rate are shares of the routine requests; a clarify counts as neither kept nor handed off.",
        h.n, h.split, h.intent_set, h.decider, h.threshold
    )));
    let mut g = Table::new(&[
        "group",
        "source",
        "human should take over",
        "n",
        "bot",
        "clarify",
        "handoff",
        "kept with wrong intent",
    ]);
    for x in &h.groups {
        g.row(vec![
            x.group.as_str().into(),
            x.source.into(),
            if x.should_hand_off {
                "yes".into()
            } else {
                "no".into()
            },
            x.n.to_string(),
            x.bot.to_string(),
            x.clarify.to_string(),
            x.handoff.to_string(),
            x.kept_wrong.to_string(),
        ]);
    }
    b.push(Block::Table(g));
    let p = &h.at_threshold;
    let mut ft = Table::new(&["figure", "value"]);
    for (k, v) in [
        ("containment", p.containment),
        ("wrong-answer rate", p.wrong_answer_rate),
        (
            "wrong answers among kept routine requests",
            p.wrong_answer_share_of_kept,
        ),
        ("handoff precision", p.handoff_precision),
        ("handoff recall", p.handoff_recall),
        (
            "not kept by the bot (handoff or clarify), of should-hand-off",
            p.not_kept_recall,
        ),
        ("explicit human requests handed off", p.human_request_recall),
    ] {
        ft.row(vec![k.into(), fmt4(Some(v))]);
    }
    b.push(Block::Table(ft));
    b.push(Block::Heading(
        3,
        "Sweep over the confidence threshold".into(),
    ));
    let mut st = Table::new(&[
        "threshold",
        "containment",
        "wrong-answer rate",
        "handoff precision",
        "handoff recall",
        "handoffs",
    ]);
    for q in h
        .sweep
        .iter()
        .filter(|q| shown(q.threshold, Some(h.threshold)))
    {
        let star = if (q.threshold - h.threshold).abs() < 1e-6 {
            " (configured)"
        } else {
            ""
        };
        st.row(vec![
            format!("{:.2}{star}", q.threshold),
            fmt4(Some(q.containment)),
            fmt4(Some(q.wrong_answer_rate)),
            fmt4(Some(q.handoff_precision)),
            fmt4(Some(q.handoff_recall)),
            q.n_handoff.to_string(),
        ]);
    }
    b.push(Block::Table(st));
    b.push(Block::Plot(svg::line_chart(
        "Containment against wrong-answer rate (each point a threshold)",
        "wrong-answer rate",
        "containment",
        svg::nice_ceil(
            h.sweep
                .iter()
                .map(|q| q.wrong_answer_rate)
                .fold(0.01, f64::max),
        )
        .min(1.0),
        &[Series {
            name: "threshold sweep",
            points: h
                .sweep
                .iter()
                .map(|q| (q.wrong_answer_rate, q.containment))
                .collect(),
        }],
        Some(&Mark {
            x: p.wrong_answer_rate,
            y: Some(p.containment),
            label: format!("configured {:.2}", h.threshold),
        }),
    )));
    b.push(Block::Plot(svg::line_chart(
        "Handoff figures by confidence threshold",
        "confidence threshold",
        "figure",
        1.0,
        &[
            Series {
                name: "containment",
                points: h
                    .sweep
                    .iter()
                    .map(|q| (q.threshold, q.containment))
                    .collect(),
            },
            Series {
                name: "wrong-answer rate",
                points: h
                    .sweep
                    .iter()
                    .map(|q| (q.threshold, q.wrong_answer_rate))
                    .collect(),
            },
            Series {
                name: "handoff precision",
                points: h
                    .sweep
                    .iter()
                    .map(|q| (q.threshold, q.handoff_precision))
                    .collect(),
            },
            Series {
                name: "handoff recall",
                points: h
                    .sweep
                    .iter()
                    .map(|q| (q.threshold, q.handoff_recall))
                    .collect(),
            },
        ],
        Some(&Mark {
            x: h.threshold,
            y: None,
            label: format!("configured {:.2}", h.threshold),
        }),
    )));
    if !h.mistakes.is_empty() {
        b.push(Block::Heading(
            3,
            "Wrong decisions at the configured threshold (first few per group)".into(),
        ));
        let mut mt = Table::new(&[
            "group",
            "text",
            "action",
            "intent",
            "confidence",
            "gold intent",
        ]);
        for m in &h.mistakes {
            mt.row(vec![
                m.group.as_str().into(),
                m.text.clone(),
                format!("{:?}", m.action).to_lowercase(),
                m.intent.clone(),
                format!("{:.3}", m.confidence),
                m.gold_intent.clone().unwrap_or_else(|| "–".into()),
            ]);
        }
        b.push(Block::Table(mt));
    }
}
