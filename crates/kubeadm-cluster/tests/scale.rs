//! The scale scenario the benchmark (`benches/scale.rs`) times, run here with ten
//! workers for its results: one control plane and ten workers are built by one `apply`
//! with every worker joining at once, a second `apply` changes nothing, and `check`
//! finds every host healthy.
//! Skips, saying why, where namespaces cannot be made (not root, tools missing).

mod support;

use support::*;

#[test]
fn ten_workers_join_at_once_and_a_second_apply_and_check_find_nothing_to_do() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let run = scale_run(10);
    let (ok, out) = (run.first_apply.ok, &run.first_apply.out);
    assert!(ok, "{out}");
    assert_eq!(result_of(out, "cp-1"), Some("initialized"), "{out}");
    for i in 1..=10 {
        assert_eq!(result_of(out, &format!("w-{i}")), Some("joined"), "{out}");
    }
    // Joins ran at once: every worker's join started before the first one ended.
    let last_start = (1..=10)
        .map(|i| {
            out.find(&format!("[w-{i}] kubeadm join"))
                .expect("a join line")
        })
        .max()
        .unwrap();
    let first_end = (1..=10)
        .filter_map(|i| out.find(&format!("[w-{i}] joined")))
        .min()
        .unwrap();
    assert!(last_start < first_end, "joins one after another:\n{out}");
    let (ok, out) = (run.noop_apply.ok, &run.noop_apply.out);
    assert!(ok, "{out}");
    for h in &run.hosts {
        assert_eq!(result_of(out, &h.node), Some("unchanged"), "{out}");
    }
    let (ok, out) = (run.check.ok, &run.check.out);
    assert!(ok, "{out}");
    assert_eq!(out.matches(" healthy\n").count(), 11, "{out}");
    let mut nodes = nodes_of(&run.hosts[0]);
    nodes.retain(|n| n.starts_with("w-"));
    assert_eq!(nodes.len(), 10, "{nodes:?}");
}
