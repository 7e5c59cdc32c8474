//! The kernel tier is chosen by the CPU, not by the build (issue 13): what `Isa::best()`
//! detects agrees with the flags the kernel reports, and the shipped `encoder = "auto"`
//! picks int8 on the AVX2 tier on a CPU without AVX-512 or VNNI, and candle on a CPU with
//! no SIMD tier of ours.
//!
//! The machines this runs on have been AVX-512 parts, so the smaller CPUs are made with
//! `benches/cpumask` (CPUID trapped and feature bits cleared for one process, see
//! cpumask.c). That needs CPUID faulting (`cpuid_fault` in /proc/cpuinfo: Intel CPUs and
//! KVM guests); where the CPU has none, the masked checks say so on stderr and check
//! nothing. `.ci/run` also runs this file and `tests/fast_encoder.rs` under
//! `benches/cpumask/run.sh avx2`, where `CPUMASK=avx2` tells the first check what to expect.

use std::process::Command;
use std::sync::OnceLock;
use triage_core::model::fast::{EncoderKind, Isa};

fn cpu_flags() -> Vec<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").expect("read /proc/cpuinfo");
    info.lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, f)| f.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// The tier the flags call for, by the table in `model/fast/isa.rs`.
fn expected_tier(flags: &[String]) -> Isa {
    let has = |f: &str| flags.iter().any(|x| x == f);
    let avx2 = has("avx2") && has("fma");
    if avx2 && has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512_vnni") {
        Isa::Avx512
    } else if avx2 && (has("avx_vnni") || (has("avx512_vnni") && has("avx512vl"))) {
        Isa::AvxVnni
    } else if avx2 {
        Isa::Avx2
    } else {
        Isa::Scalar
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn the_detected_tier_is_the_one_the_cpu_flags_call_for() {
    let expected = match std::env::var("CPUMASK").as_deref() {
        // Under benches/cpumask/run.sh the process sees the masked CPU; /proc/cpuinfo
        // still lists the real one.
        Ok("avx2") => Isa::Avx2,
        Ok("sse") => Isa::Scalar,
        Ok(other) => panic!("unknown CPUMASK={other}"),
        Err(_) => expected_tier(&cpu_flags()),
    };
    assert_eq!(Isa::best(), expected);
    let auto = EncoderKind::Auto.resolve(Isa::best());
    let want = if expected.is_simd() {
        EncoderKind::Int8
    } else {
        EncoderKind::Candle
    };
    assert_eq!(auto, want, "auto on {expected}");
    assert!(Isa::available().contains(&expected));
    assert!(Isa::available().iter().all(|i| *i <= expected));
}

/// `benches/cpumask/run.sh`, the one way to mask a CPU (it builds `cpumask.so` and sets
/// `LD_PRELOAD`, `CPUMASK` and glibc's tunables), when the CPU can trap CPUID. Run once
/// here first so that the tests, which run in parallel, never build the library at once.
fn cpumask() -> Option<&'static str> {
    static READY: OnceLock<bool> = OnceLock::new();
    let run_sh = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/cpumask/run.sh");
    let ready = *READY.get_or_init(|| {
        if !cpu_flags().iter().any(|f| f == "cpuid_fault") {
            eprintln!("no cpuid_fault on this CPU: the masked-CPU checks are not run here");
            return false;
        }
        let built = Command::new(run_sh)
            .args(["avx2", "true"])
            .output()
            .expect("run benches/cpumask/run.sh");
        assert!(
            built.status.success(),
            "{run_sh} failed: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        true
    });
    ready.then_some(run_sh)
}

/// `triage classify TEXT` on a CPU masked to `profile`: (the start-up log, the answer).
fn classify_masked(run_sh: &str, profile: &str, text: &str) -> (String, serde_json::Value) {
    let out = Command::new(run_sh)
        .args([profile, env!("CARGO_BIN_EXE_triage")])
        .args(["--model", "models/triage-en-small", "classify", text])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "triage_core=info")
        .env_remove("TRIAGE_ISA")
        .env_remove("TRIAGE_ENCODER")
        .output()
        .expect("run triage");
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "triage classify failed: {log}");
    let answer = serde_json::from_slice(&out.stdout).expect("one JSON answer");
    (log, answer)
}

#[test]
#[cfg(target_arch = "x86_64")]
fn an_avx2_only_cpu_runs_int8_on_the_avx2_tier_by_itself() {
    let Some(run_sh) = cpumask() else {
        return;
    };
    let (log, answer) = classify_masked(run_sh, "avx2", "where is my order?");
    assert!(
        log.contains(r#"encoder="int8" isa="avx2""#),
        "expected int8 on avx2, log: {log}"
    );
    assert_eq!(answer["intent"]["label"], "track_order", "{answer}");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_cpu_without_a_simd_tier_of_ours_runs_candle() {
    let Some(run_sh) = cpumask() else {
        return;
    };
    let (log, answer) = classify_masked(run_sh, "sse", "where is my order?");
    assert!(
        log.contains(r#"encoder="candle""#),
        "expected candle, log: {log}"
    );
    assert_eq!(answer["intent"]["label"], "track_order", "{answer}");
}
