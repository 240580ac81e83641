//! What the real-client tests (curl, mbsync, offlineimap) share: putting messages into the store
//! directly and reading a mailbox back as the store holds it.
#![allow(dead_code)]

use wildduck_core::model::{UidSet, User};
use wildduck_core::service::Services;

#[allow(unused_imports)] // each test binary uses a different part
pub use wildduck_test_support::clients::{crlf_to_lf, lf_to_crlf, maildir_files, require_tool};
#[allow(unused_imports)] // each test binary uses a different part
pub use wildduck_test_support::services::put;

/// A mailbox as the store holds it: (uid, bytes, sorted flags) in UID order.
pub async fn stored(
    services: &Services,
    user: &User,
    mailbox: &str,
) -> Vec<(u32, Vec<u8>, Vec<String>)> {
    let mb = services
        .find_mailbox(user.id, mailbox)
        .await
        .expect("mailbox");
    let mut out = Vec::new();
    for m in services
        .fetch_messages(user.id, &mb, &UidSet::all())
        .await
        .expect("fetch")
    {
        let mut flags: Vec<String> = m.meta.flags.iter().map(|f| f.as_str().into()).collect();
        flags.sort();
        out.push((m.meta.uid.0, m.raw().expect("raw"), flags));
    }
    out
}
