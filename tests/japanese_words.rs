//! No status word stays English on a Japanese page: every row's result in
//! every committed Japanese rendering (the MIME and content corpora and the
//! end-to-end scenarios, which `tests/golden.rs` keeps equal to what the
//! code renders) is Japanese.

use std::path::Path;

fn ja_pages(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            ja_pages(&path, found);
        } else if path.to_string_lossy().ends_with(".ja.html") {
            found.push(path);
        }
    }
}

#[test]
fn every_result_on_a_japanese_page_is_japanese() {
    let mut pages = Vec::new();
    ja_pages(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden"),
        &mut pages,
    );
    assert!(pages.len() > 100, "{} pages", pages.len());
    let mut results = 0;
    for page in pages {
        let html = std::fs::read_to_string(&page).unwrap();
        for part in html.split("<span class=\"result\">").skip(1) {
            let word = part.split('<').next().unwrap();
            assert!(
                !word.is_ascii(),
                "{}: result {word:?} is not Japanese",
                page.display()
            );
            results += 1;
        }
    }
    assert!(results > 1000, "{results} results");
}
