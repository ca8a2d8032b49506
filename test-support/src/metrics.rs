//! The metric list of `docs/metrics.md`, which every program's tests hold it to.

use std::collections::BTreeSet;

/// The documented list, kept beside the docs so that the table people read is the one tested.
const DOCUMENTED: &str = include_str!("../../docs/metrics.md");

/// The metric names `docs/metrics.md` lists for `program` (`vote`, `worker`, `result`): its
/// own rows and the `all` rows, with `<program>` filled in.
pub fn documented(program: &str) -> BTreeSet<String> {
    DOCUMENTED
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | program | `metric` | type | meaning |  splits into ["", program, metric, ...].
            let (owner, name) = (cells.get(1)?, cells.get(2)?);
            let name = name.strip_prefix('`')?.strip_suffix('`')?;
            (*owner == "all" || *owner == program).then(|| name.replace("<program>", program))
        })
        .collect()
}

/// The metric families a `/metrics` answer declares (its `# TYPE` lines).
pub fn exposed(text_format: &str) -> BTreeSet<String> {
    text_format
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|declaration| declaration.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_each_program_with_the_shared_rows() {
        let vote = documented("vote");
        assert!(vote.contains("vote_build_info"), "{vote:?}");
        assert!(vote.contains("http_requests_total"), "{vote:?}");
        assert!(!vote.contains("worker_queue_depth"), "{vote:?}");
        assert!(documented("worker").contains("worker_ready"));
    }

    #[test]
    fn families_come_from_type_lines() {
        let body = "# HELP a_total A\n# TYPE a_total counter\na_total 1\n# TYPE b histogram\nb_bucket{le=\"1\"} 0\n";
        assert_eq!(
            exposed(body),
            BTreeSet::from(["a_total".to_owned(), "b".to_owned()])
        );
    }
}
