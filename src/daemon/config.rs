//! The daemon's configuration: one TOML file with WildDuck's key names where they exist
//! (inventory §8.1), environment overrides (`WILDDUCK_<SECTION>__<KEY>`), and checks that name the
//! offending key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// WildDuck's default archive time in ms (25 days).
const ARCHIVE_TIME_MS: u64 = 25 * 24 * 3600 * 1000;

/// Everything the daemon reads from its configuration file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Config {
    /// Where the embedded database, its blobs and a generated certificate live (ours).
    pub data_dir: PathBuf,
    /// Default quota in MB for users without their own (WildDuck `maxStorage`; 0 = 1024 MB).
    pub max_storage: u64,
    /// bcrypt cost for new password hashes (WildDuck uses 11; ours, for tests and small machines).
    pub bcrypt_cost: u32,
    /// Seconds sessions get to say goodbye after SIGTERM/SIGINT before they are cut (ours).
    pub shutdown_timeout: u64,
    /// Domain of the address a user created without one gets (WildDuck `emailDomain`); empty =
    /// the host name.
    pub email_domain: String,
    /// Milliseconds a deleted message stays in the archive, restorable (WildDuck's setting
    /// `const:archive:time`, 25 days by default); 0 keeps no archive.
    pub archive_time: u64,
    /// Storage selection (WildDuck `[dbs]`).
    pub dbs: Dbs,
    /// Default certificate for every TLS listener (WildDuck `[tls]`).
    pub tls: Tls,
    /// Logging (WildDuck `[log]`, plus our `format`).
    pub log: Log,
    /// IMAP (WildDuck `[imap]`).
    pub imap: Service,
    /// POP3 (WildDuck `[pop3]`).
    pub pop3: Service,
    /// HTTP API (WildDuck `[api]`).
    pub api: Api,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            max_storage: 0,
            bcrypt_cost: 11,
            shutdown_timeout: 10,
            email_domain: String::new(),
            archive_time: ARCHIVE_TIME_MS,
            dbs: Dbs::default(),
            tls: Tls::default(),
            log: Log::default(),
            imap: Service::imap(),
            pop3: Service::pop3(),
            api: Api::default(),
        }
    }
}

/// `[dbs]`: empty `mongo` means the embedded SQLite store in `dataDir`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Dbs {
    /// MongoDB URL (`mongodb://host:port/database`); set = the scale-out deployment.
    pub mongo: String,
    /// Redis URL (`redis://host:port/db`); required with `mongo`.
    pub redis: String,
    /// Commit durability of the embedded SQLite store (ours; ignored with `mongo`).
    pub sqlite_sync: SqliteSync,
}

/// `dbs.sqliteSync`: which commits of the embedded store are fsynced.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// Every commit (`synchronous=FULL`).
    Full,
    /// Appends, copies, users, passwords, mailboxes and settings; not flag changes and expunges,
    /// as Dovecot's default `mail_fsync = optimized`. Acknowledged messages survive power loss;
    /// the flag changes and expunges since the last such commit may not.
    #[default]
    Optimized,
    /// No commit (fsync at checkpoints only): survives a killed process, not power loss.
    Normal,
}

/// `[tls]` (and `[imap.tls]`, `[pop3.tls]` overrides): PEM files.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Tls {
    /// Private key file.
    pub key: String,
    /// Certificate chain file.
    pub cert: String,
    /// Certificates per server name, chosen by SNI.
    pub sni: Vec<SniCert>,
}

/// One SNI certificate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SniCert {
    /// Server name (`*.example.com` allowed).
    pub servername: String,
    /// Private key file.
    pub key: String,
    /// Certificate chain file.
    pub cert: String,
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Log {
    /// `error`, `warn`, `info`, `debug`, `trace`, or a tracing filter (`info,wildduck_pop3=debug`).
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// `[imap]` / `[pop3]`: one protocol's main listener, its extra listeners and its settings.
/// Missing keys take the protocol's own defaults (the file is merged over them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Service {
    /// Run this service.
    pub enabled: bool,
    /// Port of the main listener (0 = any free port; the chosen one is printed).
    pub port: u16,
    /// Address of the main listener.
    pub host: String,
    /// Implicit TLS on the main listener; false = plaintext with STARTTLS/STLS.
    pub secure: bool,
    /// Do not offer STARTTLS/STLS on plaintext listeners.
    #[serde(rename = "disableSTARTTLS")]
    pub disable_starttls: bool,
    /// Allow logins on plaintext even when STARTTLS/STLS is offered.
    #[serde(rename = "ignoreSTARTTLS")]
    pub ignore_starttls: bool,
    /// Expect a HAProxy PROXY v1 header on every connection.
    pub use_proxy: bool,
    /// Server name in greetings (WildDuck `imap.name`).
    pub name: String,
    /// Seconds a session may stay silent.
    pub socket_timeout: u64,
    /// IMAP: largest APPEND in MB (`imap.maxMB`).
    #[serde(rename = "maxMB")]
    pub max_mb: u64,
    /// IMAP: longest command line outside literals (`imap.maxLineLength`).
    pub max_line_length: usize,
    /// IMAP: daily upload limit in MB (`imap.maxUploadMB`).
    #[serde(rename = "maxUploadMB")]
    pub max_upload_mb: u64,
    /// IMAP: concurrent connections per user (`imap.maxConnections`).
    pub max_connections: u64,
    /// IMAP: offer COMPRESS=DEFLATE (`imap.enableCompression`).
    pub enable_compression: bool,
    /// POP3: messages listed per session (`pop3.maxMessages`).
    pub max_messages: u64,
    /// Daily download limit in MB (`maxDownloadMB`).
    #[serde(rename = "maxDownloadMB")]
    pub max_download_mb: u64,
    /// POP3: leave `IMPLEMENTATION` out of CAPA (`pop3.disableVersionString`).
    pub disable_version_string: bool,
    /// Certificate for this service only (falls back to `[tls]`).
    pub tls: Tls,
    /// More listeners for the same service.
    pub listeners: Vec<ExtraListener>,
}

impl Service {
    fn imap() -> Self {
        Self {
            enabled: true,
            port: 9993,
            host: "0.0.0.0".into(),
            secure: true,
            disable_starttls: false,
            ignore_starttls: false,
            use_proxy: false,
            name: "WildDuck IMAP Server".into(),
            socket_timeout: 5 * 60 + 37,
            max_mb: 25,
            max_line_length: 16 * 1024,
            max_upload_mb: 10240,
            max_connections: 15,
            enable_compression: false,
            max_messages: 250,
            max_download_mb: 10240,
            disable_version_string: false,
            tls: Tls::default(),
            listeners: Vec::new(),
        }
    }

    fn pop3() -> Self {
        Self {
            port: 9995,
            name: "WildDuck POP3 Server".into(),
            socket_timeout: 5 * 60,
            ..Self::imap()
        }
    }
}

/// One more listener of a service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExtraListener {
    /// Address.
    #[serde(default = "any_host")]
    pub host: String,
    /// Port.
    pub port: u16,
    /// Implicit TLS.
    #[serde(default)]
    pub secure: bool,
}

fn any_host() -> String {
    "0.0.0.0".into()
}

/// `[api]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Api {
    /// Run the HTTP listener.
    pub enabled: bool,
    /// Port (0 = any free port).
    pub port: u16,
    /// Address (WildDuck binds the API to loopback by default).
    pub host: String,
    /// Static master token (`X-Access-Token` header or `accessToken` query); empty = no access
    /// control (WildDuck `api.accessToken`).
    pub access_token: String,
    /// Prometheus metrics at `/metrics` (WildDuck `[api.metrics]`).
    pub metrics: ApiMetrics,
    /// User and role tokens (WildDuck `[api.accessControl]`).
    pub access_control: ApiAccessControl,
    /// HTTPS instead of HTTP (WildDuck `api.secure`), with `[api.tls]`, else `[tls]`, else the
    /// generated certificate.
    pub secure: bool,
    /// Certificate for the API only (`[api.tls]`).
    pub tls: Tls,
}

/// `[api.accessControl]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ApiAccessControl {
    /// Require a valid token on every request (a token given is checked even when off).
    pub enabled: bool,
    /// HMAC key of the token records; changing it invalidates every token.
    pub secret: String,
    /// Seconds a token lives after its last use (WildDuck default 14 days).
    #[serde(rename = "tokenTTL")]
    pub token_ttl: u64,
    /// Seconds a token may live at most (WildDuck default 180 days).
    pub token_lifetime: u64,
}

impl Default for ApiAccessControl {
    fn default() -> Self {
        Self {
            enabled: false,
            secret: "a secret cat".into(),
            token_ttl: 14 * 24 * 3600,
            token_lifetime: 180 * 24 * 3600,
        }
    }
}

impl Default for Api {
    fn default() -> Self {
        Self {
            enabled: true,
            port: 8080,
            host: "127.0.0.1".into(),
            access_token: String::new(),
            metrics: ApiMetrics { enabled: true },
            access_control: ApiAccessControl::default(),
            secure: false,
            tls: Tls::default(),
        }
    }
}

/// `[api.metrics]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct ApiMetrics {
    /// Serve `/metrics`.
    pub enabled: bool,
}

/// A configuration problem, naming the key (or file, or URL) at fault.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn err(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

impl Config {
    /// Reads `path` (or only the defaults when `None`), applies the `WILDDUCK_*` variables in
    /// `env`, and checks the result.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut table = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| err(format!("cannot read config file {}: {e}", p.display())))?;
                text.parse::<toml::Table>()
                    .map_err(|e| err(format!("config file {}: {e}", p.display())))?
            }
            None => toml::Table::new(),
        };
        apply_env(&mut table, env)?;
        let config = Self::from_table(table)?;
        // Relative paths are relative to the config file, so the daemon can start from anywhere.
        let base = path.and_then(Path::parent).map(Path::to_path_buf);
        let mut config = match base {
            Some(b) if !b.as_os_str().is_empty() => config.rebase(&b),
            _ => config,
        };
        config.data_dir = normalize(&config.data_dir);
        config.check()?;
        Ok(config)
    }

    /// Parses a table merged over the defaults; an unknown key or a wrong type is reported with
    /// its dotted path.
    pub fn from_table(table: toml::Table) -> Result<Self, ConfigError> {
        let mut merged = defaults_table()?;
        merge(&mut merged, table);
        let value = toml::Value::Table(merged);
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            err(format!("config key `{path}`: {inner}"))
        })
    }

    fn rebase(mut self, base: &Path) -> Self {
        let fix = |p: &mut String| {
            if !p.is_empty() && Path::new(p.as_str()).is_relative() {
                *p = base.join(p.as_str()).to_string_lossy().into_owned();
            }
        };
        let fix_tls = |t: &mut Tls| {
            fix(&mut t.key);
            fix(&mut t.cert);
            for s in &mut t.sni {
                fix(&mut s.key);
                fix(&mut s.cert);
            }
        };
        if self.data_dir.is_relative() {
            self.data_dir = base.join(&self.data_dir);
        }
        fix_tls(&mut self.tls);
        fix_tls(&mut self.imap.tls);
        fix_tls(&mut self.pop3.tls);
        self
    }

    /// Checks what types alone cannot: certificate files exist, listeners are well formed, URLs
    /// are coherent.
    pub fn check(&self) -> Result<(), ConfigError> {
        check_tls("tls", &self.tls)?;
        for (name, svc) in [("imap", &self.imap), ("pop3", &self.pop3)] {
            check_tls(&format!("{name}.tls"), &svc.tls)?;
            check_host(&format!("{name}.host"), &svc.host)?;
            for (i, l) in svc.listeners.iter().enumerate() {
                check_host(&format!("{name}.listeners[{i}].host"), &l.host)?;
            }
        }
        check_host("api.host", &self.api.host)?;
        match self.log.format.as_str() {
            "text" | "json" => {}
            other => {
                return Err(err(format!(
                    "config key `log.format`: expected \"text\" or \"json\", got {other:?}"
                )));
            }
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(err(format!(
                "config key `log.level`: not a log level or filter: {:?}",
                self.log.level
            )));
        }
        if self
            .email_domain
            .chars()
            .any(|c| c == '@' || c.is_whitespace() || c.is_control())
        {
            return Err(err(format!(
                "config key `emailDomain`: expected a domain name, got {:?}",
                self.email_domain
            )));
        }
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(err("config key `bcryptCost`: must be between 4 and 31"));
        }
        if !self.dbs.mongo.is_empty() && self.dbs.redis.is_empty() {
            return Err(err(
                "config key `dbs.redis`: required when `dbs.mongo` is set (the scale-out deployment needs both)",
            ));
        }
        if self.dbs.mongo.is_empty() && !self.dbs.redis.is_empty() {
            return Err(err(
                "config key `dbs.mongo`: required when `dbs.redis` is set (the embedded store needs neither)",
            ));
        }
        if !self.dbs.mongo.is_empty() && !self.dbs.mongo.starts_with("mongodb") {
            return Err(err(
                "config key `dbs.mongo`: expected a mongodb:// or mongodb+srv:// URL",
            ));
        }
        if !self.dbs.redis.is_empty() && !self.dbs.redis.starts_with("redis") {
            return Err(err(
                "config key `dbs.redis`: expected a redis:// or rediss:// URL",
            ));
        }
        Ok(())
    }

    /// The certificate files for `service` (`imap`/`pop3`): its own `[<service>.tls]` when set,
    /// else `[tls]`. `None` when neither is set (the generated certificate is used).
    pub fn tls_for<'a>(&'a self, svc: &'a Service) -> Option<&'a Tls> {
        if !svc.tls.cert.is_empty() {
            Some(&svc.tls)
        } else if !self.tls.cert.is_empty() {
            Some(&self.tls)
        } else {
            None
        }
    }
}

/// `a/b/../c` → `a/c` (lexically, so the printed data directory reads well before it exists).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !matches!(
                    out.components().next_back(),
                    None | Some(Component::ParentDir)
                ) {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn defaults_table() -> Result<toml::Table, ConfigError> {
    match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(t)) => Ok(t),
        _ => Err(err("internal: cannot list the configuration keys")),
    }
}

/// Deep-merges `over` into `base`: tables key by key, anything else replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn check_host(key: &str, host: &str) -> Result<(), ConfigError> {
    if host.parse::<std::net::IpAddr>().is_err() && host != "localhost" {
        return Err(err(format!(
            "config key `{key}`: expected an IP address (e.g. 0.0.0.0 or ::), got {host:?}"
        )));
    }
    Ok(())
}

fn check_tls(key: &str, tls: &Tls) -> Result<(), ConfigError> {
    if tls.cert.is_empty() != tls.key.is_empty() {
        let missing = if tls.cert.is_empty() { "cert" } else { "key" };
        return Err(err(format!(
            "config key `{key}.{missing}`: set both `cert` and `key`, or neither"
        )));
    }
    let exists = |k: &str, p: &str| -> Result<(), ConfigError> {
        if !p.is_empty() && !Path::new(p).is_file() {
            return Err(err(format!("config key `{k}`: no such file: {p}")));
        }
        Ok(())
    };
    exists(&format!("{key}.cert"), &tls.cert)?;
    exists(&format!("{key}.key"), &tls.key)?;
    for (i, s) in tls.sni.iter().enumerate() {
        exists(&format!("{key}.sni[{i}].cert"), &s.cert)?;
        exists(&format!("{key}.sni[{i}].key"), &s.key)?;
    }
    Ok(())
}

/// Applies `WILDDUCK_<SECTION>__<KEY>` (any depth, `__` between levels; case-insensitive, matched
/// against the known keys) and `WILDDUCK_<TOPKEY>` for top-level keys. Values are read as TOML
/// (`1993`, `true`, `["a"]`) and otherwise taken as strings. A `__` variable naming no key is an
/// error; other `WILDDUCK_*` variables (the test harness's, say) are left alone.
pub fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = defaults_table()?;
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("WILDDUCK_"))
        .collect();
    vars.sort();
    for (name, raw) in vars {
        let rest = name.trim_start_matches("WILDDUCK_");
        let nested = rest.contains("__");
        let parts: Vec<&str> = rest.split("__").collect();
        // Resolve each part to the canonical (camelCase) key through the defaults' tree.
        let mut names = Vec::new();
        let mut node = Some(&defaults);
        for part in &parts {
            let found = node.and_then(|t| {
                t.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(part))
                    .map(|(k, v)| (k.clone(), v))
            });
            match found {
                Some((k, v)) => {
                    names.push(k);
                    node = v.as_table();
                }
                None => {
                    names.clear();
                    break;
                }
            }
        }
        if names.is_empty() {
            if nested {
                return Err(err(format!(
                    "environment variable {name}: names no configuration key"
                )));
            }
            continue;
        }
        let value = parse_env_value(&raw);
        let Some((last, parents)) = names.split_last() else {
            continue;
        };
        let mut target = &mut *table;
        for p in parents {
            let entry = target
                .entry(p.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let Some(t) = entry.as_table_mut() else {
                return Err(err(format!(
                    "environment variable {name}: `{p}` is not a section in the config file"
                )));
            };
            target = t;
        }
        target.insert(last.clone(), value);
    }
    Ok(())
}

fn parse_env_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_string())),
        Err(_) => toml::Value::String(raw.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e| err(format!("{e}")))?;
        apply_env(
            &mut table,
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )?;
        let c = Config::from_table(table)?;
        c.check()?;
        Ok(c)
    }

    #[test]
    fn defaults_follow_wildduck() {
        let c = load_str("", &[]).expect("defaults");
        assert_eq!((c.imap.port, c.pop3.port, c.api.port), (9993, 9995, 8080));
        assert!(c.imap.secure && c.pop3.secure);
        assert_eq!(c.api.host, "127.0.0.1");
        let c = load_str("[pop3]\nsecure = false\n", &[]).expect("partial section");
        assert_eq!((c.pop3.port, c.pop3.secure), (9995, false));
        assert_eq!(c.pop3.name, "WildDuck POP3 Server");
    }

    #[test]
    fn unknown_key_and_bad_port_are_named() {
        let e = load_str("[pop3]\nprot = 1\n", &[]).unwrap_err().0;
        assert!(e.contains("pop3.prot"), "{e}");
        let e = load_str("[imap]\nport = 70000\n", &[]).unwrap_err().0;
        assert!(e.contains("imap.port"), "{e}");
        let e = load_str("[tls]\ncert = \"/nope.pem\"\nkey = \"/nope.key\"\n", &[])
            .unwrap_err()
            .0;
        assert!(e.contains("tls.cert"), "{e}");
    }

    #[test]
    fn the_example_config_loads_and_shows_the_defaults() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/wildduck.toml"
        ));
        let c = Config::load(Some(path), Vec::new()).expect("examples/wildduck.toml");
        let d = Config::default();
        assert_eq!(c.imap, d.imap);
        assert_eq!(c.pop3.listeners.len(), 1);
        assert_eq!(
            Service {
                listeners: Vec::new(),
                ..c.pop3.clone()
            },
            d.pop3
        );
        assert_eq!(
            (&c.api, &c.log, &c.dbs, &c.tls),
            (&d.api, &d.log, &d.dbs, &d.tls)
        );
        assert_eq!(
            (c.max_storage, c.bcrypt_cost, c.shutdown_timeout),
            (d.max_storage, d.bcrypt_cost, d.shutdown_timeout)
        );
        assert_eq!(c.email_domain, d.email_domain);
        assert_eq!(
            c.archive_time,
            u64::try_from(wildduck_core::service::archive::ARCHIVE_TIME.as_millis()).unwrap_or(0)
        );
        assert!(
            c.data_dir.ends_with("target/wildduck-data"),
            "{:?}",
            c.data_dir
        );
    }

    #[test]
    fn archive_time_is_read() {
        let c = load_str("archiveTime = 0\n", &[]).expect("archiveTime");
        assert_eq!(c.archive_time, 0);
        let c = load_str("archiveTime = 86400000\n", &[]).expect("archiveTime");
        assert_eq!(c.archive_time, 86_400_000);
        assert!(load_str("archiveTime = -1\n", &[]).is_err());
    }

    #[test]
    fn email_domain_is_read_and_checked() {
        let c = load_str("emailDomain = \"mail.example.com\"\n", &[]).expect("emailDomain");
        assert_eq!(c.email_domain, "mail.example.com");
        let e = load_str("emailDomain = \"a@b\"\n", &[]).unwrap_err().0;
        assert!(e.contains("emailDomain"), "{e}");
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(
            normalize(Path::new("examples/../target/d")),
            Path::new("target/d")
        );
        assert_eq!(normalize(Path::new("../x/./y")), Path::new("../x/y"));
        assert_eq!(normalize(Path::new("/a/../../b")), Path::new("/b"));
    }

    #[test]
    fn env_overrides_any_key() {
        let c = load_str(
            "[imap]\nport = 1\n",
            &[
                ("WILDDUCK_IMAP__PORT", "1993"),
                ("WILDDUCK_POP3__DISABLESTARTTLS", "true"),
                ("WILDDUCK_DBS__MONGO", "mongodb://db:27017/wd"),
                ("WILDDUCK_DBS__REDIS", "redis://r:6379/3"),
                ("WILDDUCK_MAXSTORAGE", "512"),
                ("WILDDUCK_TEST_MONGODB_URL", "ignored"),
            ],
        )
        .expect("env");
        assert_eq!(c.imap.port, 1993);
        assert!(c.pop3.disable_starttls);
        assert_eq!(c.dbs.mongo, "mongodb://db:27017/wd");
        assert_eq!(c.max_storage, 512);
        let e = load_str("", &[("WILDDUCK_IMAP__PROT", "1")]).unwrap_err().0;
        assert!(e.contains("WILDDUCK_IMAP__PROT"), "{e}");
    }
}
