//! Golden files: for every message of the corpus (`tests/corpus/*.eml` at the workspace root), the
//! ENVELOPE, BODYSTRUCTURE and BODY we send, without and with UTF8=ACCEPT, as FETCH responses in
//! `tests/golden/<name>.txt`. Every response must also decode with imap-codec (a test oracle only) into
//! the model it was written from.
//!
//! After a deliberate change, regenerate with `UPDATE_GOLDEN=1 cargo test -p wildduck-imap --test golden`
//! and review the diff.

mod common;

use std::path::{Path, PathBuf};

use wildduck_core::message::bodystructure::body_structure;
use wildduck_core::message::envelope::envelope;
use wildduck_core::message::parse::normalize_and_parse;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read(&p).expect("corpus file"))
        })
        .collect();
    out.sort();
    out
}

/// The golden text of one message; panics when imap-codec disagrees with it.
fn render(name: &str, raw: &[u8]) -> Vec<u8> {
    let root = normalize_and_parse(raw);
    let env = envelope(&root.header);
    let bs = body_structure(&root);
    let mut out = Vec::new();
    for (seq, utf8) in [(1, false), (2, true)] {
        for item in common::fetch_items(&env, &bs, utf8) {
            let line = common::fetch_line(seq, &[item]);
            let rest = common::check_fetch(&line, &env, &bs, utf8, &format!("{name} utf8={utf8}"));
            assert!(rest.is_empty(), "{name}: bytes left after the response");
            out.extend(line);
        }
    }
    out
}

#[test]
fn corpus_matches_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let corpus = corpus();
    assert!(
        corpus.len() >= 40,
        "corpus has only {} messages",
        corpus.len()
    );
    let mut failures = Vec::new();
    for (name, raw) in &corpus {
        let got = render(name, raw);
        let path = golden_dir().join(format!("{name}.txt"));
        if update {
            std::fs::write(&path, &got).expect("write golden file");
            continue;
        }
        match std::fs::read(&path) {
            Ok(want) if want == got => {}
            Ok(_) => failures.push(format!("{name}: output differs from {}", path.display())),
            Err(e) => failures.push(format!("{name}: cannot read {}: {e}", path.display())),
        }
    }
    // A golden file without its message would silently stop being checked.
    for entry in std::fs::read_dir(golden_dir())
        .expect("golden directory")
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "txt") {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            if !corpus.iter().any(|(n, _)| Some(n) == stem.as_ref()) {
                failures.push(format!("stale golden file {}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(regenerate with UPDATE_GOLDEN=1 after reviewing the change)",
        failures.join("\n")
    );
}
