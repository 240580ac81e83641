//! Golden files for FETCH sections: for every corpus message (`tests/corpus/*.eml`), a fixed set of
//! `BODY[...]` sections as the stored form answers them, in `tests/golden-sections/<name>.txt`.
//!
//! Each section is also produced twice — from the tree with every body inline and from the tree after
//! the attachment split, reading blobs back — and both must agree, so the goldens pin the answer of
//! the stored form, not only of the parser. Regenerate after a deliberate change with
//! `UPDATE_GOLDEN=1 cargo test -p wildduck-core --test section_golden` and review the diff.

use std::path::{Path, PathBuf};

use wildduck_core::message::parse::{normalize_and_parse, normalize_line_endings};
use wildduck_core::message::section::{SectionKind, SectionSpec, fetch_section, section_size};
use wildduck_core::message::{BlobList, NoBlobs, ingest};

/// One section asked of every message: `(label, part path, kind, partial)`.
type Case = (&'static str, Vec<u32>, SectionKind, Option<(u64, u64)>);

/// The sections asked of every message.
fn sections() -> Vec<Case> {
    let fields = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        ("BODY[]<0.64>", vec![], SectionKind::Full, Some((0, 64))),
        ("BODY[HEADER]", vec![], SectionKind::Header, None),
        (
            "BODY[HEADER.FIELDS (FROM TO SUBJECT)]",
            vec![],
            SectionKind::HeaderFields(fields(&["FROM", "TO", "SUBJECT"])),
            None,
        ),
        (
            "BODY[HEADER.FIELDS.NOT (RECEIVED DKIM-SIGNATURE)]",
            vec![],
            SectionKind::HeaderFieldsNot(fields(&["RECEIVED", "DKIM-SIGNATURE"])),
            None,
        ),
        (
            "BODY[TEXT]<0.200>",
            vec![],
            SectionKind::Text,
            Some((0, 200)),
        ),
        ("BODY[1]", vec![1], SectionKind::Full, None),
        ("BODY[1.MIME]", vec![1], SectionKind::Mime, None),
        ("BODY[2]<0.200>", vec![2], SectionKind::Full, Some((0, 200))),
        ("BODY[2.MIME]", vec![2], SectionKind::Mime, None),
        ("BODY[2.HEADER]", vec![2], SectionKind::Header, None),
        (
            "BODY[2.TEXT]<0.200>",
            vec![2],
            SectionKind::Text,
            Some((0, 200)),
        ),
        (
            "BODY[1.1]<0.200>",
            vec![1, 1],
            SectionKind::Full,
            Some((0, 200)),
        ),
        ("BODY[1.2.MIME]", vec![1, 2], SectionKind::Mime, None),
        ("BODY[3]<0.200>", vec![3], SectionKind::Full, Some((0, 200))),
        ("BODY[9]", vec![9], SectionKind::Full, None),
    ]
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden_dir() -> PathBuf {
    workspace().join("tests/golden-sections")
}

/// Every `tests/corpus/*.eml` of the workspace, sorted by name.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(workspace().join("tests/corpus"))
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| {
            let name = p
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("corpus file"))
        })
        .collect();
    out.sort();
    out
}

fn render(name: &str, raw: &[u8]) -> Vec<u8> {
    let plain = normalize_and_parse(raw);
    let ingested = ingest(raw).expect("corpus messages ingest");
    let blobs = BlobList(&ingested.blobs);
    let whole = ingested.message.rebuild(&blobs).expect("rebuild");
    assert_eq!(
        whole,
        normalize_line_endings(raw).as_ref(),
        "{name}: rebuild is not exact"
    );
    let mut out = Vec::new();
    for (label, part, kind, partial) in sections() {
        let spec = SectionSpec { part, kind };
        let inline = fetch_section(&plain, &spec, &NoBlobs, partial).expect("inline section");
        let split = ingested
            .message
            .section(&spec, &blobs, partial)
            .expect("split section");
        assert_eq!(inline, split, "{name} {label}: split and inline disagree");
        if partial.is_none() {
            assert_eq!(
                section_size(&plain, &spec),
                inline.len() as u64,
                "{name} {label}: section_size"
            );
        }
        out.extend_from_slice(format!("== {label} {{{}}}\r\n", inline.len()).as_bytes());
        out.extend_from_slice(&inline);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn corpus_sections_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let corpus = corpus();
    assert!(
        corpus.len() >= 40,
        "the corpus has {} messages",
        corpus.len()
    );
    let mut mismatched = Vec::new();
    for (name, raw) in &corpus {
        let rendered = render(name, raw);
        let path = golden_dir().join(format!("{name}.txt"));
        if update {
            std::fs::write(&path, &rendered).expect("write golden");
            continue;
        }
        match std::fs::read(&path) {
            Ok(golden) if golden == rendered => {}
            Ok(_) => mismatched.push(format!("{name}: differs")),
            Err(e) => mismatched.push(format!("{name}: {e} (run with UPDATE_GOLDEN=1)")),
        }
    }
    assert!(mismatched.is_empty(), "golden mismatches: {mismatched:#?}");
}

#[test]
fn a_nested_rfc822_part_answers_the_embedded_message() {
    let raw = std::fs::read(workspace().join("tests/corpus/05-nested-rfc822.eml")).unwrap();
    let root = normalize_and_parse(&raw);
    let header = fetch_section(
        &root,
        &SectionSpec {
            part: vec![2],
            kind: SectionKind::Header,
        },
        &NoBlobs,
        None,
    )
    .unwrap();
    assert!(header.starts_with(b"From: Heidi <heidi@example.com>\r\n"));
    assert!(header.ends_with(b"\r\n\r\n"));
    let inner = fetch_section(
        &root,
        &SectionSpec {
            part: vec![2, 2, 1],
            kind: SectionKind::Full,
        },
        &NoBlobs,
        None,
    )
    .unwrap();
    assert_eq!(
        inner,
        b"Does anyone know when the server migration happens?\r\n".to_vec()
    );
}
