//! `schemathesis` (PyPI, installed into the repo's `.venv` by `scripts/setup-test-deps`) against
//! `/openapi.json` of an API on SQLite with a seeded user: no 5xx and no response that violates
//! the document. Two runs: one with the path parameters bound to the seeded resources (so the
//! handlers do real work), one with generated path parameters (so validation and not-found paths
//! are exercised). Bounded examples keep it well under two minutes.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::{Kind, multipart, start};

fn schemathesis() -> PathBuf {
    if let Ok(p) = std::env::var("WILDDUCK_TEST_SCHEMATHESIS") {
        return PathBuf::from(p);
    }
    // The workspace root holds the venv.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let p = root.join(".venv/bin/schemathesis");
    assert!(
        p.exists(),
        "schemathesis is not installed: run `source scripts/setup-test-deps` (installs it into .venv) \
         or set WILDDUCK_TEST_SCHEMATHESIS to its path"
    );
    p
}

async fn run(
    bin: &PathBuf,
    url: &str,
    dir: &std::path::Path,
    config: &str,
    examples: u32,
) -> (bool, String) {
    let cfg = dir.join("schemathesis.toml");
    std::fs::write(&cfg, config).expect("config");
    let out = tokio::process::Command::new(bin)
        .arg("--config-file")
        .arg(&cfg)
        .arg("run")
        .arg(url)
        // The response checks (the "no 5xx, no response that violates the spec"), plus
        // the HTTP-level ones. `positive_data_acceptance`/`negative_data_rejection` compare our
        // validation with request-body schemas, which the document does not declare yet.
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,unsupported_method,\
             allow_header_conformance",
        ])
        // Stateful testing needs links in the document; none are declared.
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &examples.to_string()])
        .args(["--workers", "2"])
        .args(["--seed", "7"])
        .args(["--generation-database", "none"])
        .arg("--no-color")
        .current_dir(dir)
        .env("SCHEMATHESIS_HOOKS", "")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run schemathesis");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let bin = schemathesis();
    let api = start(Kind::Sqlite).await;
    let user = api.user("fuzzed").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    api.upload(&user, &inbox, &multipart(), "").await;
    let (_, addrs) = api.get(&format!("/users/{user}/addresses")).await;
    let address = addrs["results"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = api.url("/openapi.json");

    let bound = format!(
        "[parameters]\nuser = \"{user}\"\nmailbox = \"{inbox}\"\nmessage = \"1\"\n\
         attachment = \"ATT00001\"\naddress = \"{address}\"\nusername = \"fuzzed\"\n"
    );
    let started = std::time::Instant::now();
    let (ok, text) = run(&bin, &url, dir.path(), &bound, 15).await;
    assert!(ok, "schemathesis (bound parameters) failed:\n{text}");
    let (ok, text) = run(&bin, &url, dir.path(), "", 15).await;
    assert!(ok, "schemathesis (generated parameters) failed:\n{text}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
}
