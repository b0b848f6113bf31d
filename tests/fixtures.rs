//! Every fixture case (`fixtures/<kind>/<case>/` with its own `rules.toml`) checked against its reviewed
//! snapshot: violations and clean code side by side, so both a missed finding and a false one show up.

mod common;

#[test]
fn every_fixture_case_matches_its_snapshot() {
    let fixtures = common::root().join("fixtures");
    let mut cases = Vec::new();
    for kind in std::fs::read_dir(&fixtures).expect("fixtures/") {
        let kind = kind.expect("entry").path();
        for case in std::fs::read_dir(&kind).into_iter().flatten() {
            let case = case.expect("entry").path();
            if case.join("rules.toml").is_file() {
                cases.push(case);
            }
        }
    }
    cases.sort();
    assert!(
        cases.len() >= 6,
        "expected a fixture case per rule kind, found {cases:?}"
    );
    for case in cases {
        let relative = case
            .strip_prefix(common::root())
            .expect("under the root")
            .to_string_lossy()
            .replace('\\', "/");
        let rules = format!("{relative}/rules.toml");
        let (code, human) = common::run(&[&relative, "--rules", &rules, "--color", "never"]);
        assert_eq!(code, 1, "every case holds violations: {relative}\n{human}");
        let name = relative.trim_start_matches("fixtures/").replace('/', "__");
        insta::assert_snapshot!(name, human);
    }
}
