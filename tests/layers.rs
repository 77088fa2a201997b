//! The module layers of `src/lib.rs`: a module imports only from its own layer or below, and
//! no two top-level modules import each other (directly or round a longer loop). Reads the
//! sources as text, so a new upward `use` fails here before it spreads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module's layer, lowest first. A module missing here fails the test: a new
/// module must be given its place.
const LAYERS: &[(&str, &[&str])] = &[
    ("data", &["config", "contract", "stats"]),
    (
        "mechanisms",
        &[
            "load", "engine", "runtime", "images", "sample", "database", "manifest", "schedule",
            "sweep", "ui", "chat",
        ],
    ),
    ("record", &["results"]),
    ("procedures", &["run", "verify", "instrument"]),
    (
        "judgement and presentation",
        &[
            "claims",
            "analysis",
            "compare",
            "merge",
            "audit",
            "matrix",
            "reproduce",
            "report",
            "console",
        ],
    ),
    ("edge", &["commands", "cli", "main"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// The top-level module a source file belongs to: `src/run/chat.rs` → `run`.
fn module_of(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .unwrap_or_default();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a source text names through `crate::` or `faceoff::`. Comments are
/// skipped (doc links may point anywhere).
fn imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for prefix in ["crate::", "faceoff::"] {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                let before = rest[..at].chars().last();
                rest = &rest[at + prefix.len()..];
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
        // `use crate::{a, b::c}` names several modules at once.
        if let Some(at) = code.find("crate::{") {
            for part in code[at + "crate::{".len()..].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// Every upward import and every import loop between top-level modules, one line each.
fn violations(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in files {
        let module = module_of(path);
        if module == "lib" {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            problems.push(format!(
                "{}: module `{module}` has no layer in tests/layers.rs",
                path.display()
            ));
            continue;
        };
        for import in imports(text) {
            if import == module {
                continue;
            }
            let Some(theirs) = layer_of(&import) else {
                continue;
            };
            if theirs > own {
                problems.push(format!(
                    "{}: `{module}` ({}) imports `{import}` ({}), a higher layer",
                    path.display(),
                    LAYERS[own].0,
                    LAYERS[theirs].0
                ));
            }
            graph.entry(module.clone()).or_default().insert(import);
        }
    }
    for cycle in cycles(&graph) {
        problems.push(format!("import loop: {}", cycle.join(" → ")));
    }
    problems
}

/// The loops of the import graph, each once, as module names from the smallest round.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    // Rotate so the smallest name leads: each loop is reported once.
                    let least = (0..cycle.len()).min_by_key(|&i| &cycle[i]).unwrap_or(0);
                    cycle.rotate_left(least);
                    cycle.push(cycle[0].clone());
                    found.insert(cycle);
                } else if !path.contains(next) && next > start {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found.into_iter().collect()
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path.strip_prefix(root).unwrap().to_path_buf(), text));
        }
    }
}

#[test]
fn every_module_imports_only_from_its_own_layer_or_below_and_no_module_loops() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &root, &mut files);
    let problems = violations(&files);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_module_of_lib_rs_has_a_layer() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line.strip_prefix("pub mod ") {
            let name = name.trim_end_matches(';');
            assert!(layer_of(name).is_some(), "`{name}` has no layer");
        }
    }
}

#[test]
fn an_upward_import_is_caught() {
    let files = vec![(
        PathBuf::from("sample.rs"),
        "use crate::results::RunResults;\n".to_string(),
    )];
    let problems = violations(&files);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("`sample` (mechanisms) imports `results`"));
}

#[test]
fn an_import_loop_within_a_layer_is_caught() {
    let files = vec![
        (
            PathBuf::from("claims.rs"),
            "fn f() { crate::audit::x() }".to_string(),
        ),
        (
            PathBuf::from("audit/mod.rs"),
            "use crate::{claims, stats};".to_string(),
        ),
    ];
    let problems = violations(&files);
    assert_eq!(problems, ["import loop: audit → claims → audit"]);
}

#[test]
fn doc_comments_and_other_crates_do_not_count_as_imports() {
    let text = "//! see [`crate::report`]\nuse other_crate::results;\nlet x = 1; // crate::cli";
    assert!(imports(text).is_empty(), "{:?}", imports(text));
}
