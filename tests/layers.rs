//! The arrows between the crate's top-level modules point down: each module
//! has a rank, and code may name (`use crate::x`, `crate::x::…`) only
//! modules of a lower rank. A stage thus knows the stages before it and
//! never one after it, and no two modules import each other. Read from the
//! source, comments left out; a new module must be given its rank here.

use std::collections::BTreeMap;
use std::path::Path;

/// Lower ranks first. Within a rank nothing may import another.
const RANKS: &[(&str, u8)] = &[
    // Leaves: plain helpers and names every stage may use.
    ("fnv", 0),
    ("i18n", 0),
    ("listen", 0),
    ("stage", 0),
    ("test_id", 0),
    // Counters, by names the leaves give (the failed stages').
    ("metrics", 1),
    // The pipeline, in the order one message meets it.
    ("dns", 2),
    ("smtp", 2),
    ("store", 3),
    ("checks", 4),
    ("score", 5),
    ("report", 6),
    // A survey folds reports into rows; the analysis hands it each one.
    ("survey", 7),
    // Webhooks queue a finished report and deliver it.
    ("webhooks", 7),
    ("analysis", 8),
    ("inbox", 9),
    ("web", 9),
    // Wiring and the commands.
    ("config", 10),
    ("check", 11),
    ("survey_cli", 11),
    ("config_check", 11),
    ("logs", 11),
    ("wait", 11),
    ("serve", 12),
];

fn rank(module: &str) -> u8 {
    RANKS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, rank)| *rank)
        .unwrap_or_else(|| panic!("src/{module}: give it a rank in tests/layers.rs"))
}

/// Every `crate::<module>` a file's code names (comments left out).
fn named_modules(source: &str) -> Vec<String> {
    let mut named = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                named.push(name);
            }
        }
    }
    named
}

fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            visit(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn imports_point_to_lower_stages_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    let mut upward: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut edges = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "main" || top == "lib" {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        for named in named_modules(&source) {
            if named == top {
                continue;
            }
            edges += 1;
            if rank(&named) >= rank(&top) {
                upward
                    .entry(relative.display().to_string())
                    .or_default()
                    .push(named);
            }
        }
    }
    assert!(edges > 50, "read only {edges} imports: is src/ there?");
    assert!(
        upward.is_empty(),
        "imports of a module of the same or a higher rank: {upward:?}"
    );
}

#[test]
fn the_reader_sees_imports_and_skips_comments() {
    let source = "use crate::checks::CheckId;\n// see crate::serve\nlet x = crate::dns::answers::Reply; // crate::web";
    assert_eq!(named_modules(source), ["checks", "dns"]);
}
