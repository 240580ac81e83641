//! The OpenAPI document lists every route's query and body parameters with their types and
//! limits, and it agrees with the handlers: with `params::audit` on, every route runs once and
//! `openapi::disagreements` must find no field read but undocumented (or typed differently) and
//! no documented field left unread.

mod common;

use serde_json::{Value, json};
use utoipa::openapi::path::HttpMethod;
use wildduck_api::openapi::{ROUTES, disagreements};
use wildduck_api::params::audit;

use common::{Kind, multipart, start};

/// A valid ObjectId that names nothing.
const NOBODY: &str = "0123456789abcdef01234567";

fn query_param<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("{method} {path}: no parameter {name}"))
}

fn body_schema<'a>(doc: &'a Value, path: &str, method: &str) -> &'a Value {
    &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
}

#[tokio::test]
async fn document_has_typed_query_and_body_parameters() {
    let api = start(Kind::Sqlite).await;
    let (s, doc) = api.get("/openapi.json").await;
    assert_eq!(s, 200);

    let messages = "/users/{user}/mailboxes/{mailbox}/messages";
    let limit = query_param(&doc, messages, "get", "limit");
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["required"], false);
    assert_eq!(limit["schema"]["type"], "integer");
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 250);
    let order = query_param(&doc, messages, "get", "order");
    assert_eq!(order["schema"]["enum"], json!(["asc", "desc"]));
    let user = query_param(&doc, messages, "get", "user");
    assert_eq!(user["in"], "path");
    assert_eq!(user["schema"]["pattern"], "^[0-9a-fA-F]{24}$");

    let users = body_schema(&doc, "/users", "post");
    assert_eq!(users["type"], "object");
    assert_eq!(users["properties"]["username"]["type"], "string");
    assert_eq!(users["properties"]["username"]["maxLength"], 128);
    assert!(
        users["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("username")))
    );
    assert!(
        !users["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("password")))
    );
    assert_eq!(users["properties"]["quota"]["type"], "integer");
    // Unknown fields are refused (400 "is not allowed"), except by listings and searches.
    assert_eq!(users["additionalProperties"], false);
    assert!(body_schema(&doc, "/users/{user}/search", "post")["additionalProperties"].is_null());
    assert_eq!(users["properties"]["tags"]["type"], "array");
    assert_eq!(
        users["properties"]["disabledScopes"]["items"]["enum"],
        json!(["imap", "pop3", "smtp"])
    );
    assert_eq!(
        doc["paths"]["/users"]["post"]["requestBody"]["required"],
        true
    );

    // Answers: `{"success": ...}` JSON, the raw message, the event stream.
    let ok = |path: &str, method: &str| doc["paths"][path][method]["responses"]["200"].clone();
    assert_eq!(
        ok("/users", "post")["content"]["application/json"]["schema"]["required"],
        json!(["success"])
    );
    assert!(
        ok(&format!("{messages}/{{message}}/message.eml"), "get")["content"]["message/rfc822"]
            .is_object()
    );
    assert!(ok("/users/{user}/updates", "get")["content"]["text/event-stream"].is_object());
    assert!(doc["paths"]["/users"]["get"]["responses"]["414"].is_object());

    // Nested objects keep their fields.
    let search = body_schema(&doc, "/users/{user}/search", "post");
    assert_eq!(
        search["properties"]["action"]["properties"]["moveTo"]["pattern"],
        "^[0-9a-fA-F]{24}$"
    );
    let upload = body_schema(&doc, messages, "post");
    assert_eq!(
        upload["properties"]["attachments"]["items"]["required"],
        json!(["content"])
    );
    assert!(doc["paths"][messages]["post"]["requestBody"]["content"]["message/rfc822"].is_object());
    // A comma separated list in a query.
    let tags = query_param(&doc, "/addresses", "get", "tags");
    assert_eq!(tags["schema"]["type"], "array");
    assert_eq!(tags["explode"], false);

    // Every documented parameter of every route is in the document, where it belongs.
    for (method, path, _, id, _, groups) in ROUTES {
        let m = serde_json::to_value(method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let op = &doc["paths"][*path][m.as_str()];
        assert_eq!(op["operationId"], *id);
        for p in groups.iter().flat_map(|g| g.iter()) {
            let in_params = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|x| x["name"] == p.name));
            let in_body = body_schema(&doc, path, &m)["properties"][p.name].is_object();
            assert!(in_params || in_body, "{id}: `{}` missing", p.name);
            if p.required && in_body && !in_params {
                assert!(
                    body_schema(&doc, path, &m)["required"]
                        .as_array()
                        .is_some_and(|r| r.contains(&json!(p.name))),
                    "{id}: `{}` not marked required",
                    p.name
                );
            }
        }
    }
}

/// Sends one request to `path` with `method` and waits only for the status (the updates route
/// streams).
async fn hit(api: &common::Api, method: &str, path: &str, body: Option<Value>) -> u16 {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = api.client.request(m, api.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("send").status().as_u16()
}

#[tokio::test]
async fn handlers_read_exactly_the_documented_parameters() {
    audit::start();
    let api = start(Kind::Sqlite).await;
    let user = api.user("audited").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let uid = api.upload(&user, &inbox, &multipart(), "").await;
    let (_, addrs) = api.get(&format!("/users/{user}/addresses")).await;
    let address = addrs["results"][0]["id"]
        .as_str()
        .unwrap_or(NOBODY)
        .to_string();

    // Deletions last, so every other route still finds the seeded resources.
    let mut routes: Vec<_> = ROUTES.iter().collect();
    routes.sort_by_key(|r| r.0 == HttpMethod::Delete);
    for (method, path, _, id, _, _) in routes {
        let m = serde_json::to_value(method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_ascii_uppercase))
            .unwrap_or_default();
        let concrete = path
            .replace("{user}", &user)
            .replace("{mailbox}", &inbox)
            .replace("{attachment}", "ATT00001")
            .replace("{address}", &address)
            .replace("{username}", "audited")
            // Archived message ids are ObjectIds; everything else in `{message}` is a UID.
            .replace(
                "{message}",
                if path.contains("archived") {
                    NOBODY
                } else {
                    "1"
                },
            )
            .replace("{asp}", NOBODY)
            .replace("{event}", NOBODY)
            .replace("{id}", NOBODY);
        let concrete = if concrete.ends_with("/messages/1") {
            concrete.replace("/messages/1", &format!("/messages/{uid}"))
        } else {
            concrete
        };
        // An empty JSON object still runs every handler's validation.
        let body = matches!(m.as_str(), "POST" | "PUT").then(|| json!({}));
        let status = hit(&api, &m, &concrete, body).await;
        assert!(status < 500, "{id} {concrete}: {status}");
    }
    let problems = disagreements(&audit::reads());
    assert!(
        problems.is_empty(),
        "document and handlers disagree:\n{}",
        problems.join("\n")
    );
}

#[tokio::test]
async fn documented_integers_refuse_fractions() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("counted").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    let base = format!("/users/{user}/mailboxes/{inbox}/messages");
    let (s, b) = api.get(&format!("{base}?limit=1.5")).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["details"]["limit"], "\"limit\" must be an integer");
    let (s, b) = api.get(&format!("{base}?page=2.5")).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["details"]["page"], "\"page\" must be an integer");
    let (s, b) = api.get(&format!("{base}?limit=250")).await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = api.get(&format!("{base}?limit=251")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn search_or_is_taken_as_json_text_in_a_query() {
    let api = start(Kind::Sqlite).await;
    let user = api.user("searcher").await;
    let inbox = api.mailbox(&user, "INBOX").await;
    api.upload(&user, &inbox, &common::simple("needle"), "")
        .await;
    api.upload(&user, &inbox, &common::simple("haystack"), "")
        .await;
    let or = "%7B%22subject%22%3A%22needle%22%7D"; // {"subject":"needle"}
    let (s, b) = api.get(&format!("/users/{user}/search?or={or}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["total"], 1, "{b}");
    let (s, b) = api.get(&format!("/users/{user}/search?or=%7Bnope")).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["details"]["or"].is_string(), "{b}");
}
