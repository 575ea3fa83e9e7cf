//! Paired rounds after a criterion group: what the benches that hold one figure against
//! another in the same run print, so that both sides share the moment.

/// How many paired rounds to run: `WEBACTION_BENCH_ROUNDS` (default 9; 0 skips them),
/// and none when criterion only tests the benchmarks (`cargo test`, which does not pass
/// `--bench`) or lists them.
pub(crate) fn wanted() -> usize {
    let rounds = std::env::var("WEBACTION_BENCH_ROUNDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(9);
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|arg| arg == "--bench") && !args.iter().any(|a| a == "--list");
    if measuring {
        rounds
    } else {
        0
    }
}

/// The median of `values` (the upper one of an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The median of `ratios`, with every round's in order beside it: `1.77 (1.77 1.72 …)`.
pub(crate) fn median_and_each(ratios: &[f64]) -> String {
    let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    format!("{:.2} ({})", median(ratios), each.join(" "))
}
