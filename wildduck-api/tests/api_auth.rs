//! Access tokens, roles, application-specific passwords and the authentication log over real
//! HTTP (SQLite, and a subset on MongoDB + Redis).

mod common;

use std::time::Duration;

use common::{Api, Kind, start_with};
use serde_json::{Value, json};
use wildduck_api::auth::tokens;
use wildduck_api::{AccessControl, ApiConfig};
use wildduck_core::ErrorKind;
use wildduck_core::service::login::{INVALID_SCOPE_MESSAGE, LoginRequest, Scope};

const MASTER: &str = "master-secret-token";

fn config(ttl: u64, lifetime: u64) -> ApiConfig {
    ApiConfig {
        access_token: Some(MASTER.into()),
        access_control: AccessControl {
            enabled: true,
            secret: "test secret".into(),
            token_ttl: Duration::from_secs(ttl),
            token_lifetime: Duration::from_secs(lifetime),
        },
        ..Default::default()
    }
}

/// A request with `token` in `X-Access-Token` (none when empty).
async fn call(
    api: &Api,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = api.client.request(m, api.url(path));
    if !token.is_empty() {
        req = req.header("X-Access-Token", token);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn user(api: &Api, name: &str) -> String {
    let (s, b) = call(
        api,
        "POST",
        "/users",
        MASTER,
        Some(json!({"username": name, "password": "secretpass", "address": format!("{name}@example.com"), "tags": ["vip"]})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["id"].as_str().expect("id").to_string()
}

async fn token_for(api: &Api, name: &str) -> String {
    let (s, b) = call(
        api,
        "POST",
        "/authenticate",
        MASTER,
        Some(json!({"username": name, "password": "secretpass", "token": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let t = b["token"].as_str().expect("token").to_string();
    assert!(tokens::is_token_form(&t), "{t}");
    t
}

async fn token_flow(kind: Kind) {
    let api = start_with(kind, config(14 * 24 * 3600, 180 * 24 * 3600)).await;
    let a = user(&api, "alice").await;
    let b = user(&api, "bob").await;

    // Access control on: no token, a wrong one, or a non-token string are all refused.
    for t in ["", "0123456789abcdef0123456789abcdef01234567", "nonsense"] {
        let (s, body) = call(&api, "GET", &format!("/users/{a}"), t, None).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (403, Some("InvalidToken")),
            "{t:?}"
        );
    }

    let token = token_for(&api, "alice").await;
    // Stored as WildDuck stores it: hash of the token, user, role, ttl, authVersion, signature.
    let record = api
        .services
        .kv()
        .hash_get_all(&tokens::token_key(&tokens::token_hash(&token)))
        .await
        .expect("kv");
    assert_eq!(record.get("user").map(String::as_str), Some(a.as_str()));
    assert_eq!(record.get("role").map(String::as_str), Some("user"));
    assert_eq!(record.get("ttl").map(String::as_str), Some("1209600"));
    assert_eq!(record.get("authVersion").map(String::as_str), Some("1"));
    assert_eq!(
        record.get("s"),
        Some(&tokens::signature(
            "test secret",
            &token,
            &a,
            Some(1),
            "user"
        ))
    );

    // `me`, and the user's own record without the attributes a user token may not see.
    let (s, body) = call(&api, "GET", "/users/me", &token, None).await;
    assert_eq!((s, body["id"].as_str()), (200, Some(a.as_str())), "{body}");
    assert!(
        body.get("tags").is_none() && body.get("disabledScopes").is_none(),
        "{body}"
    );
    assert!(body.get("internalData").is_none());
    let (_, body) = call(&api, "GET", &format!("/users/{a}"), MASTER, None).await;
    assert_eq!(body["tags"], json!(["vip"]), "root sees tags");

    // Token sources: query and Bearer work too.
    let resp = api
        .client
        .get(api.url(&format!("/users/me/mailboxes?accessToken={token}")))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    let resp = api
        .client
        .get(api.url("/users/me/addresses"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 200);

    // Another user's data: 403 and nothing of theirs.
    for path in [
        format!("/users/{b}"),
        format!("/users/{b}/mailboxes"),
        format!("/users/{b}/addresses"),
        format!("/users/{b}/asps"),
        format!("/users/{b}/authlog"),
    ] {
        let (s, body) = call(&api, "GET", &path, &token, None).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (403, Some("MissingPrivileges")),
            "{path}"
        );
        assert!(!body.to_string().contains("bob"), "{body}");
    }
    let (s, _) = call(
        &api,
        "POST",
        &format!("/users/{b}/mailboxes"),
        &token,
        Some(json!({"path": "Stolen"})),
    )
    .await;
    assert_eq!(s, 403);
    // Not even its own account may be deleted or listed beyond itself.
    let (s, _) = call(&api, "DELETE", &format!("/users/{a}"), &token, None).await;
    assert_eq!(s, 403);
    let (s, body) = call(&api, "GET", "/users", &token, None).await;
    assert_eq!(s, 200, "{body}");
    let ids: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|u| u["id"].as_str())
        .collect();
    assert_eq!(ids, [a.as_str()]);
    let (s, _) = call(
        &api,
        "POST",
        "/users",
        &token,
        Some(json!({"username": "x"})),
    )
    .await;
    assert_eq!(s, 403);

    // A user token may not set its own tags: they are dropped, the rest applies.
    let (s, body) = call(
        &api,
        "PUT",
        "/users/me",
        &token,
        Some(json!({"name": "Alice A", "tags": ["admin"]})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (_, body) = call(&api, "GET", &format!("/users/{a}"), MASTER, None).await;
    assert_eq!(
        (body["name"].as_str(), &body["tags"]),
        (Some("Alice A"), &json!(["vip"]))
    );

    // Revoking the token.
    let (s, _) = call(&api, "DELETE", "/authenticate", &token, None).await;
    assert_eq!(s, 200);
    let (s, body) = call(&api, "GET", "/users/me", &token, None).await;
    assert_eq!((s, body["code"].as_str()), (403, Some("InvalidToken")));

    // A password change (new authVersion) invalidates older tokens; WildDuck's logout does not.
    let token = token_for(&api, "alice").await;
    let (s, _) = call(&api, "PUT", "/users/me/logout", &token, None).await;
    assert_eq!(s, 200);
    let (s, _) = call(&api, "GET", "/users/me", &token, None).await;
    assert_eq!(s, 200, "logout keeps API tokens, as in WildDuck");
    let (s, _) = call(
        &api,
        "PUT",
        &format!("/users/{a}"),
        MASTER,
        Some(json!({"password": "newsecretpass"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = call(&api, "GET", "/users/me", &token, None).await;
    assert_eq!((s, body["code"].as_str()), (403, Some("InvalidToken")));

    // So does a suspension.
    let token = token_for(&api, "bob").await;
    let (s, _) = call(&api, "GET", "/users/me", &token, None).await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &api,
        "PUT",
        &format!("/users/{b}"),
        MASTER,
        Some(json!({"suspended": true})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = call(&api, "GET", "/users/me", &token, None).await;
    assert_eq!((s, body["code"].as_str()), (403, Some("InvalidToken")));
}

#[tokio::test]
async fn user_tokens_sqlite() {
    token_flow(Kind::Sqlite).await;
}

#[tokio::test]
async fn user_tokens_mongo_redis() {
    token_flow(Kind::Mongo).await;
}

#[tokio::test]
async fn token_ttl_slides_and_lifetime_caps() {
    let api = start_with(Kind::Sqlite, config(2, 5)).await;
    user(&api, "carol").await;
    let token = token_for(&api, "carol").await;
    // Each use pushes the expiry 2 s further: 3.2 s after issue it still works.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(1600)).await;
        let (s, _) = call(&api, "GET", "/users/me", &token, None).await;
        assert_eq!(s, 200);
    }
    // Unused for longer than the TTL: gone.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let (s, _) = call(&api, "GET", "/users/me", &token, None).await;
    assert_eq!(s, 403);

    // Used continuously, a token still ends at its maximum lifetime.
    let token = token_for(&api, "carol").await;
    let mut last = 0;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        last = call(&api, "GET", "/users/me", &token, None).await.0;
    }
    assert_eq!(last, 403, "past the 5 s lifetime");
}

#[tokio::test]
async fn role_tokens_follow_grants() {
    let api = start_with(Kind::Sqlite, config(3600, 36000)).await;
    let a = user(&api, "dave").await;
    let mailbox = {
        let (_, b) = call(&api, "GET", &format!("/users/{a}/mailboxes"), MASTER, None).await;
        b["results"][0]["id"].as_str().expect("mailbox").to_string()
    };
    // A provisioned role token as WildDuck's `bin/access-tokens` writes it (no ttl: permanent).
    let provision = |role: &'static str, token: &'static str| {
        let services = api.services.clone();
        async move {
            let fields = [
                ("user", "provisioned".to_string()),
                ("role", role.to_string()),
                ("created", "0".to_string()),
                (
                    "s",
                    tokens::signature("test secret", token, "provisioned", None, role),
                ),
            ];
            services
                .kv()
                .hash_set(
                    &tokens::token_key(&tokens::token_hash(token)),
                    &fields,
                    Duration::from_secs(3600),
                )
                .await
                .expect("kv");
        }
    };
    let manager = "1111111111111111111111111111111111111111";
    let downloader = "2222222222222222222222222222222222222222";
    let auth = "3333333333333333333333333333333333333333";
    provision("manager", manager).await;
    provision("downloader", downloader).await;
    provision("auth", auth).await;

    let (s, b) = call(&api, "GET", &format!("/users/{a}"), manager, None).await;
    assert_eq!(s, 200, "{b}");
    let (s, _) = call(
        &api,
        "GET",
        &format!("/users/{a}/mailboxes/{mailbox}/messages"),
        manager,
        None,
    )
    .await;
    assert_eq!(s, 403, "manager has no messages grant");
    let (s, _) = call(
        &api,
        "GET",
        &format!("/users/{a}/mailboxes/{mailbox}/messages"),
        downloader,
        None,
    )
    .await;
    assert_eq!(s, 200, "downloader reads anyone's messages");
    let (s, _) = call(&api, "GET", &format!("/users/{a}"), downloader, None).await;
    assert_eq!(s, 403);
    // The `auth` role authenticates but never gets a token.
    let (s, b) = call(
        &api,
        "POST",
        "/authenticate",
        auth,
        Some(json!({"username": "dave", "password": "secretpass", "token": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("token").is_none(), "{b}");
    // A forged signature is refused.
    let forged = "4444444444444444444444444444444444444444";
    api.services
        .kv()
        .hash_set(
            &tokens::token_key(&tokens::token_hash(forged)),
            &[
                ("user", "x".into()),
                ("role", "root".into()),
                ("s", "00".into()),
            ],
            Duration::from_secs(60),
        )
        .await
        .expect("kv");
    let (s, b) = call(&api, "GET", "/users", forged, None).await;
    assert_eq!((s, b["code"].as_str()), (403, Some("InvalidToken")));
}

async fn asp_flow(kind: Kind) {
    let api = start_with(kind, config(3600, 36000)).await;
    let a = user(&api, "erin").await;
    let b = user(&api, "frank").await;
    let token = token_for(&api, "erin").await;

    // A user token creates its own password; the plain password is in the answer only.
    let (s, body) = call(
        &api,
        "POST",
        "/users/me/asps",
        &token,
        Some(json!({"description": "Phone", "scopes": ["imap"]})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let asp = body["id"].as_str().expect("id").to_string();
    let password = body["password"].as_str().expect("password").to_string();
    assert!(password.len() == 16 && password.bytes().all(|c| c.is_ascii_lowercase()));
    let (s, body) = call(&api, "GET", &format!("/users/{a}/asps/{asp}"), &token, None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        (body["scopes"].clone(), body["lastUse"]["time"].clone()),
        (json!(["imap"]), json!(false))
    );
    assert!(body.get("password").is_none(), "{body}");

    let login = |password: String, scope: Scope| {
        let services = api.services.clone();
        async move {
            services
                .login_detailed(LoginRequest {
                    username: "erin@example.com",
                    password: &password,
                    scope,
                    ip: "192.0.2.7".parse().ok(),
                    protocol: "IMAP",
                    session: Some("s1"),
                })
                .await
        }
    };
    // Spaces and upper case are ignored, as mail clients show the password in groups.
    let spaced = password
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(" ");
    let ok = login(spaced, Scope::Imap)
        .await
        .expect("imap login with the asp");
    assert_eq!(ok.asp.map(|x| x.to_string()), Some(asp.clone()));
    let err = login(password.clone(), Scope::Pop3)
        .await
        .expect_err("pop3 is not in scope");
    assert_eq!(
        (err.kind(), err.message()),
        (ErrorKind::AuthFailed, INVALID_SCOPE_MESSAGE)
    );
    // The application password is no account password: the master scope refuses it.
    let (s, body) = call(
        &api,
        "POST",
        "/authenticate",
        MASTER,
        Some(json!({"username": "erin", "password": password, "scope": "master"})),
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (403, Some("AuthFailed")));
    let (s, body) = call(
        &api,
        "POST",
        "/authenticate",
        MASTER,
        Some(json!({"username": "erin", "password": password, "scope": "pop3"})),
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (403, Some("InvalidAuthScope")));
    // The account password still works for IMAP (no second factor).
    login("secretpass".into(), Scope::Imap)
        .await
        .expect("master password");

    // The last use is recorded with its authlog entry.
    let (_, body) = call(&api, "GET", "/users/me/asps", &token, None).await;
    let listed = &body["results"][0];
    assert_eq!(listed["id"], asp.as_str());
    assert!(listed["lastUse"]["time"].is_string(), "{body}");
    let event = listed["lastUse"]["event"]
        .as_str()
        .expect("event")
        .to_string();
    let (s, body) = call(
        &api,
        "GET",
        &format!("/users/me/authlog/{event}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        (
            body["action"].as_str(),
            body["result"].as_str(),
            body["source"].as_str(),
            body["asp"].as_str(),
            body["ip"].as_str(),
            body["protocol"].as_str()
        ),
        (
            Some("authentication"),
            Some("success"),
            Some("asp"),
            Some(asp.as_str()),
            Some("192.0.2.7"),
            Some("IMAP")
        )
    );

    // The log lists every kind of event, newest first, paged.
    let (s, body) = call(&api, "GET", "/users/me/authlog?limit=50", &token, None).await;
    assert_eq!(s, 200, "{body}");
    let all = body["results"].as_array().expect("results").clone();
    let actions: Vec<(&str, &str)> = all
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["result"].as_str().unwrap_or(""),
            )
        })
        .collect();
    for want in [
        ("create asp", "success"),
        ("authentication", "success"),
        ("authentication", "fail"),
    ] {
        assert!(actions.contains(&want), "{want:?} in {actions:?}");
    }
    assert_eq!(body["total"].as_u64(), Some(all.len() as u64));
    let mut seen = Vec::new();
    let mut path = "/users/me/authlog?limit=1".to_string();
    loop {
        let (s, page) = call(&api, "GET", &path, &token, None).await;
        assert_eq!(s, 200, "{page}");
        seen.extend(
            page["results"]
                .as_array()
                .expect("results")
                .iter()
                .map(|e| e["id"].clone()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/users/me/authlog?limit=1&next={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        all.iter().map(|e| e["id"].clone()).collect::<Vec<_>>()
    );
    let (_, body) = call(
        &api,
        "GET",
        "/users/me/authlog?action=create%20asp",
        &token,
        None,
    )
    .await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(1), "{body}");

    // Another user's password and event ids read as absent.
    let (s, body) = call(&api, "GET", &format!("/users/{b}/asps/{asp}"), MASTER, None).await;
    assert_eq!((s, body["code"].as_str()), (404, Some("AspNotFound")));
    let (s, body) = call(
        &api,
        "GET",
        &format!("/users/{b}/authlog/{event}"),
        MASTER,
        None,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (404, Some("EventNotFound")));
    let (s, body) = call(
        &api,
        "POST",
        "/users/me/asps",
        &token,
        Some(json!({"description": "x", "scopes": ["ftp"]})),
    )
    .await;
    assert_eq!(
        (s, body["code"].as_str()),
        (400, Some("InputValidationError"))
    );

    // A temporary password is listed only with showAll.
    let (s, _) = call(
        &api,
        "POST",
        "/users/me/asps",
        &token,
        Some(json!({"description": "Temp", "scopes": ["*"], "ttl": 600, "password": "abcdefghijklmnop"})),
    )
    .await;
    assert_eq!(s, 200);
    let (_, body) = call(&api, "GET", "/users/me/asps", &token, None).await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(1));
    let (_, body) = call(&api, "GET", "/users/me/asps?showAll=true", &token, None).await;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(2));
    let tmp = body["results"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["description"] == "Temp"))
        .expect("temp");
    assert!(tmp["expires"].is_string());
    assert_eq!(tmp["scopes"], json!(["imap", "pop3", "smtp"]));
    login("abcdefghijklmnop".into(), Scope::Pop3)
        .await
        .expect("wildcard scope");

    // Deleted: no longer logs in.
    let (s, _) = call(
        &api,
        "DELETE",
        &format!("/users/{a}/asps/{asp}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = call(
        &api,
        "DELETE",
        &format!("/users/{a}/asps/{asp}"),
        &token,
        None,
    )
    .await;
    assert_eq!((s, body["code"].as_str()), (404, Some("AspNotFound")));
    let err = login(password, Scope::Imap).await.expect_err("deleted");
    assert_eq!(err.kind(), ErrorKind::AuthFailed);
}

#[tokio::test]
async fn asps_and_authlog_sqlite() {
    asp_flow(Kind::Sqlite).await;
}

#[tokio::test]
async fn asps_and_authlog_mongo_redis() {
    asp_flow(Kind::Mongo).await;
}

async fn reset_flow(kind: Kind) {
    let api = start_with(kind, config(3600, 36000)).await;
    let a = user(&api, "gina").await;
    let (s, body) = call(
        &api,
        "POST",
        &format!("/users/{a}/password/reset"),
        MASTER,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let temp = body["password"].as_str().expect("password").to_string();
    assert!(
        temp.len() == 12 && temp.bytes().all(|c| c.is_ascii_alphanumeric()),
        "{temp}"
    );
    assert!(body["validAfter"].is_string());

    let auth = |password: String, scope: &'static str| {
        let body = json!({"username": "gina", "password": password, "scope": scope});
        async { call(&api, "POST", "/authenticate", MASTER, Some(body)).await }
    };
    let (s, body) = auth(temp.clone(), "master").await;
    assert_eq!(
        (s, &body["requirePasswordChange"]),
        (200, &json!(true)),
        "{body}"
    );
    let (s, body) = auth("secretpass".into(), "master").await;
    assert_eq!(
        (s, &body["requirePasswordChange"]),
        (200, &json!(false)),
        "the account password still works"
    );
    let (s, body) = auth(temp.clone(), "imap").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("InvalidAuthScope")),
        "master scope only"
    );

    // Not yet valid.
    let (s, body) = call(
        &api,
        "POST",
        &format!("/users/{a}/password/reset"),
        MASTER,
        Some(json!({"validAfter": "2999-01-01T00:00:00.000Z"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let later = body["password"].as_str().expect("password").to_string();
    let (s, body) = auth(later.clone(), "master").await;
    assert_eq!(
        (s, body["code"].as_str()),
        (403, Some("TempPasswordNotYetValid"))
    );
    let (s, _) = call(
        &api,
        "POST",
        &format!("/users/{a}/password/reset"),
        MASTER,
        Some(json!({"validAfter": "soon"})),
    )
    .await;
    assert_eq!(s, 400);

    // A user token may not reset (users:update any), and a new password ends the reset.
    let token = token_for(&api, "gina").await;
    let (s, _) = call(
        &api,
        "POST",
        "/users/me/password/reset",
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = call(
        &api,
        "POST",
        &format!("/users/{a}/password/reset"),
        MASTER,
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = call(
        &api,
        "PUT",
        &format!("/users/{a}"),
        MASTER,
        Some(json!({"password": "brandnewpass"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = auth(temp, "master").await;
    assert_eq!(s, 403);
    let (s, body) = call(
        &api,
        "GET",
        &format!("/users/{a}/authlog?action=reset"),
        MASTER,
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body["results"].as_array().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn password_reset_sqlite() {
    reset_flow(Kind::Sqlite).await;
}

#[tokio::test]
async fn password_reset_mongo_redis() {
    reset_flow(Kind::Mongo).await;
}
