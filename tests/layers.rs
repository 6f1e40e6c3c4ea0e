//! The crate's layering, checked from its source: the `crate::MODULE` paths each top-level module
//! of `src/` names (in code, doc links and comments alike: a path in a comment is a dependency a
//! reader follows).
//!
//! - no cycle between top-level modules (a cycle means neither can be understood, or changed, alone);
//! - `domain` is a leaf: it names no other module of the crate;
//! - below `http`, only `app` (the wiring) and `store` itself name `store`: the rules reach the
//!   database through traits the store implements (`fees::periodic::SpendLedger`,
//!   `state::retention::AnswerArchive`, `state::journal::CommitTarget`);
//! - no file in `src/` over 800 lines (functions are held to 70 by clippy's `too_many_lines`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → the top-level modules it names.
type Edges = BTreeMap<String, BTreeSet<String>>;

fn edges() -> Edges {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges = Edges::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "main" {
            continue;
        }
        let mut named = BTreeSet::new();
        for file in rust_files(&path) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (index, _) in text.match_indices("crate::") {
                let rest = &text[index + "crate::".len()..];
                let module: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !module.is_empty() && module != name {
                    named.insert(module);
                }
            }
        }
        edges.insert(name, named);
    }
    edges
}

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        files.extend(rust_files(&entry.unwrap().path()));
    }
    files
}

/// A cycle through `start`, if there is one: the modules along it.
fn cycle_from(edges: &Edges, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![(start.to_owned(), vec![start.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((module, path)) = stack.pop() {
        for next in edges.get(&module).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_owned());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_cycle_between_top_level_modules() {
    let edges = edges();
    let cycles: Vec<String> = edges
        .keys()
        .filter_map(|module| cycle_from(&edges, module))
        .map(|cycle| cycle.join(" → "))
        .collect();
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

#[test]
fn domain_depends_on_nothing_else_of_the_crate() {
    let edges = edges();
    assert_eq!(edges["domain"], BTreeSet::new(), "domain names other modules");
}

#[test]
fn only_the_wiring_and_the_http_layer_name_the_store() {
    let edges = edges();
    let naming_store: BTreeSet<&str> = edges
        .iter()
        .filter(|(_, named)| named.contains("store"))
        .map(|(module, _)| module.as_str())
        .collect();
    let allowed: BTreeSet<&str> = ["app", "http"].into();
    assert!(
        naming_store.is_subset(&allowed),
        "modules below http naming the store: {:?}",
        naming_store.difference(&allowed).collect::<Vec<_>>()
    );
}

/// Files a newcomer can read whole: a longer one holds more than one concern.
const FILE_LINES_MAX: usize = 800;

#[test]
fn no_source_file_is_over_800_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let long: Vec<String> = rust_files(&src)
        .into_iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            (lines > FILE_LINES_MAX).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over {FILE_LINES_MAX} lines: {long:#?}");
}
