//! Conformance suite on the MongoDB backend against the real test server.
#![cfg(feature = "scale-out")]

mod conformance;

use wildduck_core::service::{ServiceConfig, Services};
use wildduck_core::store::mongo::MongoStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_on_mongodb() {
    let url = wildduck_test_support::mongodb_url().await;
    let store = MongoStore::connect(&url, &wildduck_test_support::unique_db_name())
        .await
        .expect("connect");
    let refused = store.ensure_indexes(None).await.expect("indexes");
    // Only text/hashed indexes may be refused by the test server.
    assert!(
        refused
            .iter()
            .all(|n| n.ends_with("fulltext") || n.contains("hashed") || n.ends_with("shard")),
        "{refused:?}"
    );
    let config = ServiceConfig {
        bcrypt_cost: 4,
        ..Default::default()
    };
    let services = Services::new(store.backend(), None, config);
    conformance::run_all(&services).await;
}
