//! `triage eval` as a user runs it: a labelled JSONL file in, the reports out, and the gate
//! failing the process when a floor is above what the model scores.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use triage_lab::data::{self, Split};

fn triage(cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_triage"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("TRIAGE_MODEL")
        .env_remove("TRIAGE_CONFIG")
        .env("TRIAGE_LOG", "warn")
        .env("TRIAGE_CACHE_DIR", cache)
        .env("TRIAGE_DATASETS", common::shared_dir().join("datasets"));
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// 24 bitext test records (a stable sample over its intents) as a user's JSONL file.
fn bitext_file(dir: &Path) -> PathBuf {
    let root = common::shared_dir().join("datasets");
    let records = data::load(&root, "bitext_customer_support", Split::Test).unwrap();
    let sample = triage_lab::eval::sample::stable_sample(records, Some(24));
    let path = dir.join("mine.jsonl");
    data::write_jsonl(&path, &sample).unwrap();
    path
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn data_file_writes_every_report() {
    let dir = temp_dir("eval-data");
    let file = bitext_file(&dir);
    let out = dir.join("out");
    let o = triage(&dir.join("cache"))
        .args([
            "eval",
            "--head",
            "intent.support",
            "--channels",
            "clean,voice",
        ])
        .arg("--data")
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let r = read_json(&out.join("report.json"));
    assert_eq!(r["gate"]["passed"], true);
    assert!(r["code_commit"].as_str().is_some_and(|c| !c.is_empty()));
    let t = &r["tasks"][0];
    assert_eq!(t["name"], "mine");
    assert_eq!(t["data"], file.to_string_lossy().as_ref());
    assert_eq!(t["bundle"]["name"], "triage-en-small");
    assert!(t["bundle"]["version"].as_str().is_some());
    assert_eq!(t["n_examples"], 24);
    let acc = t["figures"]["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    for k in [
        "macro_f1",
        "micro_f1",
        "weighted_f1",
        "ece",
        "voice.accuracy",
        "voice.gap",
    ] {
        assert!(
            t["figures"][k].is_number(),
            "figure {k} missing: {}",
            t["figures"]
        );
    }
    let c = &t["intent"]["classification"];
    assert_eq!(c["confusion_matrix"].as_array().unwrap().len(), 28); // the support head's labels, oos included
    assert_eq!(t["intent"]["calibration"]["n_bins"], 15);
    assert_eq!(t["channels"][1]["channel"], "voice");
    let voice_example = t["channels"][1]["examples"][0].as_str().unwrap();
    assert_eq!(
        voice_example,
        voice_example.to_lowercase(),
        "voice style lowercases"
    );

    // Rasa's files agree with report.json.
    let rasa = read_json(&out.join("mine/intent_report.json"));
    assert_eq!(rasa["accuracy"].as_f64().unwrap(), acc);
    for key in ["macro avg", "weighted avg"] {
        assert!(rasa[key]["f1-score"].is_number(), "{key}");
    }
    let errors = read_json(&out.join("mine/intent_errors.json"));
    let errors = errors.as_array().unwrap();
    let wrong = (24.0 * (1.0 - acc)).round() as usize;
    assert_eq!(errors.len(), wrong);
    for e in errors {
        assert_ne!(e["intent"], e["intent_prediction"]["name"]);
        assert!(e["text"].is_string() && e["intent_prediction"]["confidence"].is_number());
    }

    // Markdown has the tables; the HTML is self-contained with its plots.
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| accuracy |") && md.contains("Channels: robustness gap"),
        "{md}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.matches("<svg").count() >= 4,
        "heatmap, reliability, histogram, channels"
    );
    assert!(html.contains("confusion matrix") && html.contains("reliability diagram"));
    for external in ["<script", "<link", " src=", "url("] {
        assert!(
            !html.contains(external),
            "report.html references {external}"
        );
    }
}

#[test]
fn gate_fails_on_a_floor_above_the_figure() {
    let dir = temp_dir("eval-gate");
    let file = bitext_file(&dir);
    let cache = dir.join("cache");
    let run = |suite: &str, out: &Path| {
        let path = dir.join("suite.toml");
        std::fs::write(&path, suite).unwrap();
        triage(&cache)
            .args(["eval", "--suite"])
            .arg(&path)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let task = |bounds: &str| {
        format!(
            "name = \"tiny\"\n[[task]]\nname = \"mine\"\ndata = {:?}\nhead = \"intent.support\"\n{bounds}\n",
            file.to_string_lossy()
        )
    };

    // No floors: learn the model's figures.
    let o = run(&task(""), &dir.join("a"));
    assert!(o.status.success(), "{}", stderr(&o));
    let figures = read_json(&dir.join("a/report.json"))["tasks"][0]["figures"].clone();
    let acc = figures["accuracy"].as_f64().unwrap();
    let ece = figures["ece"].as_f64().unwrap();

    // Floors at the figures pass.
    let o = run(
        &task(&format!(
            "floors = {{ accuracy = {acc} }}\nceilings = {{ ece = {ece} }}"
        )),
        &dir.join("b"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        read_json(&dir.join("b/report.json"))["gate"]["passed"],
        true
    );

    // A floor just above the accuracy and a ceiling just under the ECE both fail, by name.
    let o = run(
        &task(&format!(
            "floors = {{ accuracy = {}, macro_f1 = 0.0 }}\nceilings = {{ ece = {} }}",
            acc + 0.001,
            ece - 0.001
        )),
        &dir.join("c"),
    );
    assert!(!o.status.success(), "the gate must fail the process");
    let err = stderr(&o);
    assert!(err.contains("the gate failed (2 of 3 checks)"), "{err}");
    assert!(
        err.contains("mine: accuracy") && err.contains("< floor"),
        "{err}"
    );
    assert!(
        err.contains("mine: ece") && err.contains("> ceiling"),
        "{err}"
    );
    assert!(
        !err.contains("macro_f1"),
        "a passing floor is not listed: {err}"
    );
    // The reports are still written, with the gate's verdict.
    let r = read_json(&dir.join("c/report.json"));
    assert_eq!(r["gate"]["passed"], false);
    let failed: Vec<&str> = r["gate"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["metric"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec!["accuracy", "ece"]);
    let md = std::fs::read_to_string(dir.join("c/report.md")).unwrap();
    assert!(md.contains("**FAIL**"));

    // The same with --floor on the command line.
    let o = triage(&cache)
        .args(["eval", "--head", "intent.support"])
        .arg("--data")
        .arg(&file)
        .arg("--out")
        .arg(dir.join("d"))
        .arg(format!("--floor=accuracy={}", acc + 0.001))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("mine: accuracy"), "{}", stderr(&o));
}

#[test]
fn bad_input_gets_clear_errors() {
    let dir = temp_dir("eval-bad");
    let file = bitext_file(&dir);
    let cache = dir.join("cache");
    let eval = |args: &[&str]| {
        let o = triage(&cache)
            .arg("eval")
            .args(args)
            .arg("--out")
            .arg(dir.join("out"))
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?} should fail");
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{err}");
        err
    };
    let f = file.to_string_lossy().into_owned();
    let err = eval(&["--data", &f, "--head", "intent.nope"]);
    assert!(
        err.contains("no head \"intent.nope\"") && err.contains("intent.support"),
        "{err}"
    );
    let err = eval(&["--data", "missing.jsonl", "--head", "intent.support"]);
    assert!(err.contains("missing.jsonl"), "{err}");
    let err = eval(&[
        "--data",
        &f,
        "--head",
        "intent.support",
        "--floor",
        "acuracy=0.5",
    ]);
    assert!(err.contains("unknown figure \"acuracy\""), "{err}");
    let err = eval(&[
        "--data",
        &f,
        "--head",
        "intent.support",
        "--floor",
        "accuracy",
    ]);
    assert!(err.contains("METRIC=VALUE"), "{err}");
    let err = eval(&[
        "--data",
        &f,
        "--head",
        "intent.support",
        "--channels",
        "fax",
    ]);
    assert!(err.contains("fax"), "{err}");
    let suite = dir.join("bad.toml");
    std::fs::write(&suite, "name = \"x\"\n[[task]]\nname = \"t\"\n").unwrap();
    let err = eval(&["--suite", suite.to_str().unwrap()]);
    assert!(
        err.contains("bad.toml") && err.contains("missing field"),
        "{err}"
    );
}

#[test]
fn retrieval_task_reports_recall_and_mrr_per_channel() {
    let dir = temp_dir("eval-retrieval");
    let cache = dir.join("cache");
    let suite = dir.join("suite.toml");
    let write = |floors: &str| {
        std::fs::write(
            &suite,
            format!(
                "name = \"kb\"\n[[task]]\nname = \"kb_support\"\nkind = \"retrieval\"\ndata = \"bitext_customer_support:test\"\nhead = \"intent.support\"\nkb = \"config/kb/support\"\nchannels = [\"clean\", \"social\"]\nlimit = 40\n{floors}\n"
            ),
        )
        .unwrap();
    };
    write("floors = { recall_at_1 = 0.9, recall_at_3 = 0.97, \"social.recall_at_1\" = 0.85 }");
    let out = dir.join("out");
    let o = triage(&cache)
        .args(["eval", "--suite"])
        .arg(&suite)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("recall_at_1"));
    let r = read_json(&out.join("report.json"));
    let t = &r["tasks"][0];
    assert_eq!(t["task_kind"], "retrieval");
    assert_eq!(t["n_examples"], 40);
    let f = &t["figures"];
    for k in [
        "recall_at_1",
        "recall_at_3",
        "recall_at_10",
        "mrr",
        "social.recall_at_1",
        "social.mrr",
        "social.gap",
    ] {
        assert!(f[k].is_number(), "figure {k} missing: {f}");
    }
    let (r1, r3, mrr) = (
        f["recall_at_1"].as_f64().unwrap(),
        f["recall_at_3"].as_f64().unwrap(),
        f["mrr"].as_f64().unwrap(),
    );
    assert!(r1 <= r3 && r1 <= mrr && mrr <= 1.0, "{f}");
    assert_eq!(t["retrieval"]["articles"], 63);
    assert_eq!(t["retrieval"]["uncovered_intents"], serde_json::json!([]));
    assert_eq!(t["channels"][1]["primary"], "recall_at_1");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| retrieval task |") && md.contains("Recall@3"),
        "{md}"
    );

    // A floor above the figure fails the gate by name.
    write(&format!("floors = {{ mrr = {} }}", mrr + 0.001));
    let o = triage(&cache)
        .args(["eval", "--suite"])
        .arg(&suite)
        .arg("--out")
        .arg(dir.join("out2"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("kb_support: mrr"), "{}", stderr(&o));
    // A classification figure on a retrieval task is a suite error.
    write("floors = { accuracy = 0.5 }");
    let o = triage(&cache)
        .args(["eval", "--suite"])
        .arg(&suite)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("unknown figure \"accuracy\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn zero_shot_tasks_relabel_gold_and_score_sentiment_only_records() {
    let dir = temp_dir("eval-zero-shot");
    let cache = dir.join("cache");
    let line = |text: &str, field: &str| format!("{{\"text\": {text:?}, {field}}}\n");
    let emotions: String = [
        ("I am so happy with the new phone, thank you!", "happy"),
        ("This made my day, wonderful news", "happy"),
        (
            "I am furious, this is the third time you lost my parcel",
            "angry",
        ),
        ("Outrageous service, I am so angry right now", "angry"),
        ("I'm scared my account was hacked", "fear"),
    ]
    .iter()
    .map(|(t, l)| line(t, &format!("\"emotions\": [\"{l}\"]")))
    .collect();
    let sentiments: String = [
        ("Great hotel, friendly staff and a lovely room", "positive"),
        ("Wonderful stay, we loved everything", "positive"),
        ("Dirty room, rude staff, never again", "negative"),
        (
            "Terrible experience, the worst hotel I have stayed in",
            "negative",
        ),
    ]
    .iter()
    .map(|(t, s)| line(t, &format!("\"sentiment\": \"{s}\"")))
    .collect();
    let (emo, senti) = (dir.join("emo.jsonl"), dir.join("senti.jsonl"));
    std::fs::write(&emo, emotions).unwrap();
    std::fs::write(&senti, sentiments).unwrap();
    let suite = |map: &str| {
        format!(
            "name = \"zs\"\n\
             [[task]]\nname = \"senti\"\ndata = {senti:?}\nhead = \"emotion\"\n\
             [[task]]\nname = \"emo\"\ndata = {emo:?}\nhead = \"emotion\"\n\
             label_map = {{ {map} }}\n"
        )
    };
    let run = |text: String| {
        let path = dir.join("suite.toml");
        std::fs::write(&path, text).unwrap();
        triage(&cache)
            .args(["eval", "--suite"])
            .arg(&path)
            .arg("--out")
            .arg(dir.join("out"))
            .output()
            .unwrap()
    };
    let o = run(suite("happy = \"joy\", angry = \"anger\", fear = \"fear\""));
    assert!(o.status.success(), "{}", stderr(&o));
    let r = read_json(&dir.join("out/report.json"));
    let tasks = r["tasks"].as_array().unwrap();
    let s = &tasks[0]["figures"];
    assert_eq!(s["n"], 4.0);
    assert!(
        s.get("macro_f1").is_none(),
        "no emotion gold, no label figures"
    );
    assert!(
        s["sentiment.polar_accuracy"].as_f64().unwrap() >= 0.75,
        "{s}"
    );
    let e = &tasks[1];
    assert_eq!(e["label_map"]["happy"], "joy");
    let gold_groups = e["figures"]["ekman.gold_macro_f1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&gold_groups));
    // Gold reaches anger, fear and joy only: the figure averages those three groups.
    let ekman = &e["emotion"]["ekman"]["per_label"];
    let present: Vec<f64> = ekman
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["support"].as_u64().unwrap() > 0)
        .map(|m| m["f1"].as_f64().unwrap())
        .collect();
    assert_eq!(present.len(), 3);
    assert!((gold_groups - present.iter().sum::<f64>() / 3.0).abs() < 1e-12);
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(md.contains("happy → joy"), "the report states the map");

    let o = run(suite("hapy = \"joy\""));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("hapy") && err.contains("angry, fear, happy"),
        "{err}"
    );
    let o = run(suite("happy = \"happiness\""));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("happiness"), "{}", stderr(&o));
}
