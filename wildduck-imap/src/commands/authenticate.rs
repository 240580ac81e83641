//! `AUTHENTICATE PLAIN` and WildDuck's `AUTHENTICATE PLAIN-CLIENTTOKEN` (Not Authenticated),
//! with the SASL-IR initial response (RFC 4959) or a `+ ` continuation; `*` cancels.

use crate::commands::login::{complete_login, login_disabled};
use crate::proto::{FramerEvent, decode_sasl_plain};
use crate::session::io::Input;
use crate::session::{Context, Reply, Then};

/// Handles AUTHENTICATE.
pub async fn handle(
    ctx: &mut Context<'_>,
    mechanism: &str,
    initial_response: Option<Vec<u8>>,
) -> Reply {
    let client_token = match mechanism.to_ascii_uppercase().as_str() {
        "PLAIN" => false,
        "PLAIN-CLIENTTOKEN" => true,
        _ => return Reply::no("Unsupported authentication mechanism"),
    };
    if login_disabled(ctx) {
        return Reply::bad("Run STARTTLS first");
    }
    let creds = match initial_response {
        Some(data) => decode_sasl_plain(&data, false, client_token),
        None => {
            if ctx.continuation("").await.is_err() {
                return Reply::bad("Connection failed").then(Then::Close);
            }
            let frame = match ctx.next_input().await {
                Input::Event(FramerEvent::Frame(f)) => f,
                Input::Event(FramerEvent::Error(e)) => return Reply::bad(e.to_string()),
                Input::Event(_) => return Reply::bad("Invalid SASL argument"),
                _ => return Reply::bad("Connection closed").then(Then::Close),
            };
            let line = frame.as_line().unwrap_or("").trim();
            if line == "*" {
                return Reply::bad("Authentication cancelled");
            }
            decode_sasl_plain(line.as_bytes(), true, client_token)
        }
    };
    let creds = match creds {
        Ok(c) => c,
        Err(_) => return Reply::bad("Invalid SASL argument"),
    };
    complete_login(ctx, creds.username.trim(), &creds.password, "AUTHENTICATE").await
}
