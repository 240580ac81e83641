//! `metaData` / `internalData` of users and of users' addresses over real HTTP, on both
//! backends: set on create, changed on update, shown by the reads and (on request) by the
//! listings, hidden from user tokens, refused with 400 and nothing changed when invalid.

mod common;

use std::time::Duration;

use common::{Api, Kind, start_with};
use serde_json::{Value, json};
use wildduck_api::{AccessControl, ApiConfig};

const MASTER: &str = "meta-master-token";

fn config() -> ApiConfig {
    ApiConfig {
        access_token: Some(MASTER.into()),
        access_control: AccessControl {
            enabled: true,
            secret: "meta secret".into(),
            token_ttl: Duration::from_secs(3600),
            token_lifetime: Duration::from_secs(24 * 3600),
        },
        ..Default::default()
    }
}

/// A request with `token` in `X-Access-Token`.
async fn call(
    api: &Api,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = api
        .client
        .request(m, api.url(path))
        .header("X-Access-Token", token);
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

async fn root(api: &Api, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call(api, method, path, MASTER, body).await
}

async fn token_for(api: &Api, name: &str) -> String {
    let (s, b) = root(
        api,
        "POST",
        "/authenticate",
        Some(json!({"username": name, "password": "secretpass", "token": true})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b["token"].as_str().expect("token").to_string()
}

/// Values WildDuck's `metaDataSchema` refuses.
fn bad_values() -> Vec<Value> {
    vec![
        json!("not json"),
        json!("[1,2]"),
        json!([1, 2]),
        json!(42),
        json!(true),
        json!({"big": "x".repeat(1024 * 1024)}),
    ]
}

fn assert_invalid(s: u16, b: &Value, what: &str) {
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("InputValidationError")),
        "{what}: {b:.200}"
    );
}

/// The listing entry of `id`.
fn entry<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["results"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("{id} not listed in {list}"))
}

async fn users(api: &Api) {
    let (s, b) = root(
        api,
        "POST",
        "/users",
        Some(json!({
            "username": "meta.alice",
            "password": "secretpass",
            "address": "meta.alice@example.com",
            "metaData": {"plan": "gold", "seats": [1, 2]},
            "internalData": "{\"crm\": \"c-17\"}",
        })),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let alice = b["id"].as_str().expect("id").to_string();
    let (s, b) = root(api, "GET", &format!("/users/{alice}"), None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["metaData"], json!({"plan": "gold", "seats": [1, 2]}));
    assert_eq!(b["internalData"], json!({"crm": "c-17"}));

    // Without any: `{}` for both, as WildDuck's formatMetaData.
    let (s, b) = root(
        api,
        "POST",
        "/users",
        Some(json!({"username": "meta.bob", "password": "secretpass"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let bob = b["id"].as_str().expect("id").to_string();
    let (_, b) = root(api, "GET", &format!("/users/{bob}"), None).await;
    assert_eq!(
        (&b["metaData"], &b["internalData"]),
        (&json!({}), &json!({}))
    );

    // Update: only what is given changes.
    let (s, b) = root(
        api,
        "PUT",
        &format!("/users/{alice}"),
        Some(json!({"metaData": "{\"plan\":\"silver\"}"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, before) = root(api, "GET", &format!("/users/{alice}"), None).await;
    assert_eq!(before["metaData"], json!({"plan": "silver"}));
    assert_eq!(before["internalData"], json!({"crm": "c-17"}));

    // Invalid values: 400, and neither they nor the rest of the request apply.
    for bad in bad_values() {
        for field in ["metaData", "internalData"] {
            let (s, b) = root(
                api,
                "PUT",
                &format!("/users/{alice}"),
                Some(json!({"name": "Not Applied", field: bad.clone()})),
            )
            .await;
            assert_invalid(s, &b, field);
            let (s, b) = root(
                api,
                "POST",
                "/users",
                Some(json!({"username": "meta.refused", field: bad.clone()})),
            )
            .await;
            assert_invalid(s, &b, field);
        }
    }
    let (_, after) = root(api, "GET", &format!("/users/{alice}"), None).await;
    assert_eq!(after, before);
    let (s, _) = root(api, "GET", "/users/resolve/meta.refused", None).await;
    assert_eq!(s, 404, "a refused create leaves no user");

    // Listing: only on request, and only stored values.
    let (s, plain) = root(api, "GET", "/users?query=meta.", None).await;
    assert_eq!(s, 200, "{plain}");
    let e = entry(&plain, &alice);
    assert!(e.get("metaData").is_none() && e.get("internalData").is_none());
    let (_, full) = root(
        api,
        "GET",
        "/users?query=meta.&metaData=true&internalData=true",
        None,
    )
    .await;
    let e = entry(&full, &alice);
    assert_eq!(e["metaData"], json!({"plan": "silver"}));
    assert_eq!(e["internalData"], json!({"crm": "c-17"}));
    let e = entry(&full, &bob);
    assert!(e.get("metaData").is_none() && e.get("internalData").is_none());
    let (_, only_meta) = root(api, "GET", "/users?query=meta.&metaData=true", None).await;
    let e = entry(&only_meta, &alice);
    assert!(e.get("metaData").is_some() && e.get("internalData").is_none());

    // A user token sees its metaData but never internalData, and cannot set internalData.
    let token = token_for(api, "meta.alice").await;
    let (s, b) = call(api, "GET", "/users/me", &token, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["metaData"], json!({"plan": "silver"}));
    assert!(b.get("internalData").is_none(), "{b}");
    let (s, b) = call(
        api,
        "PUT",
        "/users/me",
        &token,
        Some(json!({"metaData": {"self": 1}, "internalData": {"hacked": true}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = root(api, "GET", &format!("/users/{alice}"), None).await;
    assert_eq!(b["metaData"], json!({"self": 1}));
    assert_eq!(
        b["internalData"],
        json!({"crm": "c-17"}),
        "internalData kept"
    );
    let (s, b) = call(
        api,
        "GET",
        "/users?metaData=true&internalData=true",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let e = entry(&b, &alice);
    assert_eq!(e["metaData"], json!({"self": 1}));
    assert!(e.get("internalData").is_none(), "{e}");
}

async fn addresses(api: &Api) {
    let (_, b) = root(
        api,
        "POST",
        "/users",
        Some(json!({"username": "meta.owner", "password": "secretpass",
                    "address": "meta.owner@example.com"})),
    )
    .await;
    let owner = b["id"].as_str().expect("owner").to_string();
    let (_, b) = root(
        api,
        "POST",
        "/users",
        Some(json!({"username": "meta.other", "password": "secretpass",
                    "address": "meta.other@example.com"})),
    )
    .await;
    let other = b["id"].as_str().expect("other").to_string();

    let (s, b) = root(
        api,
        "POST",
        &format!("/users/{owner}/addresses"),
        Some(json!({
            "address": "Alias@Meta.example",
            "tags": ["red", "blue"],
            "metaData": {"source": "import"},
            "internalData": "{\"ticket\": 9}",
        })),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let alias = b["id"].as_str().expect("alias").to_string();
    let one = format!("/users/{owner}/addresses/{alias}");

    // The single read shows stored values unasked; the main address has none to show.
    let (s, b) = root(api, "GET", &one, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["address"], "alias@meta.example");
    assert_eq!(b["tags"], json!(["red", "blue"]));
    assert_eq!(b["metaData"], json!({"source": "import"}));
    assert_eq!(b["internalData"], json!({"ticket": 9}));
    let (_, list) = root(api, "GET", &format!("/users/{owner}/addresses"), None).await;
    let main = list["results"]
        .as_array()
        .and_then(|r| r.iter().find(|a| a["main"] == true))
        .expect("main address");
    assert!(main.get("metaData").is_none());
    // The user's listing only on request.
    let e = entry(&list, &alias);
    assert!(e.get("metaData").is_none() && e.get("internalData").is_none());
    let (_, list) = root(
        api,
        "GET",
        &format!("/users/{owner}/addresses?metaData=true&internalData=true"),
        None,
    )
    .await;
    let e = entry(&list, &alias);
    assert_eq!(e["metaData"], json!({"source": "import"}));
    assert_eq!(e["internalData"], json!({"ticket": 9}));
    // Every address, on request; resolve shows them unasked.
    let (_, all) = root(
        api,
        "GET",
        "/addresses?query=alias@meta&metaData=true&internalData=true",
        None,
    )
    .await;
    let e = entry(&all, &alias);
    assert_eq!(e["metaData"], json!({"source": "import"}));
    assert_eq!(e["internalData"], json!({"ticket": 9}));
    let (_, all) = root(api, "GET", "/addresses?query=alias@meta", None).await;
    assert!(entry(&all, &alias).get("metaData").is_none());
    let (s, b) = root(api, "GET", "/addresses/resolve/alias@meta.example", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["metaData"], json!({"source": "import"}));
    assert_eq!(b["internalData"], json!({"ticket": 9}));

    // Update: what is given changes, the rest stays.
    let (s, b) = root(
        api,
        "PUT",
        &one,
        Some(json!({"metaData": {"source": "manual"}, "name": "Alias"})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, before) = root(api, "GET", &one, None).await;
    assert_eq!(before["metaData"], json!({"source": "manual"}));
    assert_eq!(before["internalData"], json!({"ticket": 9}));
    assert_eq!(before["name"], "Alias");

    // Invalid values: 400 and nothing changes; nothing is added either.
    for bad in bad_values() {
        for field in ["metaData", "internalData"] {
            let (s, b) = root(
                api,
                "PUT",
                &one,
                Some(json!({"name": "Not Applied", field: bad.clone()})),
            )
            .await;
            assert_invalid(s, &b, field);
            let (s, b) = root(
                api,
                "POST",
                &format!("/users/{owner}/addresses"),
                Some(json!({"address": "refused@meta.example", field: bad.clone()})),
            )
            .await;
            assert_invalid(s, &b, field);
        }
    }
    let (_, after) = root(api, "GET", &one, None).await;
    assert_eq!(after, before);
    let (s, _) = root(api, "GET", "/addresses/resolve/refused@meta.example", None).await;
    assert_eq!(s, 404);

    // Another user's address is not found, by read or by update, and stays as it was.
    let theirs = format!("/users/{other}/addresses/{alias}");
    let (s, b) = root(api, "GET", &theirs, None).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("AddressNotFound")),
        "{b}"
    );
    let (s, b) = root(
        api,
        "PUT",
        &theirs,
        Some(json!({"metaData": {"stolen": 1}})),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("AddressNotFound")),
        "{b}"
    );
    let (_, after) = root(api, "GET", &one, None).await;
    assert_eq!(after, before);

    // The owner's token: metaData yes, internalData never (read, listing, or set).
    let token = token_for(api, "meta.owner").await;
    let mine = format!("/users/me/addresses/{alias}");
    let (s, b) = call(api, "GET", &mine, &token, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["metaData"], json!({"source": "manual"}));
    assert!(b.get("internalData").is_none(), "{b}");
    let (s, b) = call(
        api,
        "GET",
        "/users/me/addresses?metaData=true&internalData=true",
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let e = entry(&b, &alias);
    assert_eq!(e["metaData"], json!({"source": "manual"}));
    assert!(e.get("internalData").is_none(), "{e}");
    let (s, b) = call(
        api,
        "PUT",
        &mine,
        &token,
        Some(json!({"metaData": {"by": "owner"}, "internalData": {"hacked": true}})),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = root(api, "GET", &one, None).await;
    assert_eq!(b["metaData"], json!({"by": "owner"}));
    assert_eq!(b["internalData"], json!({"ticket": 9}));
    // Nor may it touch another user's address.
    let (s, _) = call(
        api,
        "PUT",
        &format!("/users/{other}/addresses/{alias}"),
        &token,
        Some(json!({"metaData": {"x": 1}})),
    )
    .await;
    assert_eq!(s, 403);
}

async fn all(kind: Kind) {
    let api = start_with(kind, config()).await;
    users(&api).await;
    addresses(&api).await;
}

#[tokio::test]
async fn user_and_address_meta_sqlite() {
    all(Kind::Sqlite).await;
}

#[tokio::test]
async fn user_and_address_meta_mongo() {
    all(Kind::Mongo).await;
}
