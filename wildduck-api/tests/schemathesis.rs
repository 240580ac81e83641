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

/// Generated cases per operation and phase: enough to reach every documented constraint, few
/// enough that the two runs stay within a few minutes on a 2-core CI machine.
const EXAMPLES: u32 = 10;

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
        // One worker: CPython 3.11 keeps the `ast` recursion depth per interpreter, so two
        // threads parsing at once (hypothesis describes filter lambdas with `ast.parse`) fail
        // with "AST constructor recursion depth mismatch", an error of the tool, not the API.
        .args(["--workers", "1"])
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
    // Whatever the fuzzer makes the handlers read must be documented as read.
    wildduck_api::params::audit::start();
    let started = std::time::Instant::now();
    for (what, config) in [("bound", bound.as_str()), ("generated", "")] {
        let (ok, text) = run(&bin, &url, dir.path(), config, EXAMPLES).await;
        assert!(ok, "schemathesis ({what} parameters) failed:\n{text}");
        // The phase lines and the warnings (operations that mostly got 404 or 400), for the
        // CI log.
        let mut warnings = false;
        for line in text.lines() {
            if line.contains("WARNINGS") {
                warnings = true;
            } else if line.contains("SUMMARY") {
                warnings = false;
            }
            if warnings || line.contains(" (in ") || line.contains("generated,") {
                eprintln!("schemathesis ({what}): {}", line.trim_end());
            }
        }
    }
    let problems = wildduck_api::openapi::disagreements(&wildduck_api::params::audit::reads());
    assert!(
        problems.is_empty(),
        "document and handlers disagree:\n{}",
        problems.join("\n")
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(300),
        "took {:?}",
        started.elapsed()
    );
}
