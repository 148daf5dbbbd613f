//! Joins per second: 50 workers joining one control plane at once, each from its own root
//! with a kubelet stand-in doing the TLS bootstrap against the test API server (the load
//! test `tests/join_load.rs` checks the same run's results). Five rounds, each on a new
//! control plane; the median is reported. Run with `cargo bench --bench joins`.

#[path = "../tests/support/mod.rs"]
mod support;

const ROUNDS: usize = 5;
const JOINS: usize = 50;

fn main() {
    support::kubelet_health(None);
    let mut rates: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let cp = support::control_plane();
            let (_nodes, elapsed) = support::concurrent_joins(&cp, JOINS, false);
            JOINS as f64 / elapsed.as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "{JOINS} concurrent worker joins: median {:.1} joins/s (rounds: {})",
        rates[ROUNDS / 2],
        rates
            .iter()
            .map(|r| format!("{r:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
