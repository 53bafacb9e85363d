//! `docs/errors.md` shows real reports: every example marked `<!-- golden: NAME -->` must be
//! part of that golden file.

use std::path::Path;

#[test]
fn examples_in_errors_md_are_golden() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../../docs/errors.md")).unwrap();
    let mut checked = 0;
    let mut rest = doc.as_str();
    while let Some(at) = rest.find("<!-- golden: ") {
        rest = &rest[at + "<!-- golden: ".len()..];
        let (name, after) = rest.split_once(" -->").unwrap();
        let block = after
            .split_once("```text\n")
            .and_then(|(_, b)| b.split_once("```"))
            .map(|(b, _)| b)
            .unwrap();
        let golden = std::fs::read_to_string(root.join("tests/golden").join(name)).unwrap();
        assert!(
            golden.contains(block),
            "docs/errors.md: the example marked `{name}` is not in tests/golden/{name}:\n{block}"
        );
        checked += 1;
        rest = after;
    }
    assert!(checked >= 10, "only {checked} examples found");
}
