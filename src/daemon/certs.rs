//! Certificates: the configured PEM files, or a self-signed pair generated at first start and
//! kept in the data directory so clients can pin it across restarts.

use std::path::{Path, PathBuf};

use wildduck_net::TlsAcceptor;
use wildduck_net::tls::CertResolver;

use super::config::{ConfigError, Tls};

/// File names of the generated pair inside the data directory.
pub const GENERATED_CERT: &str = "tls/self-signed-cert.pem";
/// Private key of [`GENERATED_CERT`].
pub const GENERATED_KEY: &str = "tls/self-signed-key.pem";

/// Loads `tls` (its default pair and SNI pairs) into an acceptor; `key` names the config section
/// in errors.
pub fn acceptor_from(key: &str, tls: &Tls) -> Result<TlsAcceptor, ConfigError> {
    let bad = |what: &str, e: wildduck_net::NetError| {
        ConfigError(format!("config key `{key}.{what}`: {e}"))
    };
    let mut r = CertResolver::from_pem_files(Path::new(&tls.cert), Path::new(&tls.key))
        .map_err(|e| bad("cert", e))?;
    for (i, s) in tls.sni.iter().enumerate() {
        r.add_pem_files(&s.servername, Path::new(&s.cert), Path::new(&s.key))
            .map_err(|e| bad(&format!("sni[{i}]"), e))?;
    }
    r.acceptor().map_err(|e| bad("cert", e))
}

/// The generated pair in `data_dir`, created (for `localhost`, `127.0.0.1`, `::1` and this host's
/// name) when missing. Returns the acceptor, the certificate's path and whether it was created now.
pub fn generated(data_dir: &Path) -> Result<(TlsAcceptor, PathBuf, bool), ConfigError> {
    let cert = data_dir.join(GENERATED_CERT);
    let key = data_dir.join(GENERATED_KEY);
    let mut created = false;
    if !cert.is_file() || !key.is_file() {
        let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
        if let Some(h) = hostname() {
            names.push(h);
        }
        let pair = rcgen::generate_simple_self_signed(names)
            .map_err(|e| ConfigError(format!("cannot generate a certificate: {e}")))?;
        let dir = cert.parent().unwrap_or(data_dir);
        std::fs::create_dir_all(dir)
            .map_err(|e| ConfigError(format!("cannot create {}: {e}", dir.display())))?;
        write_private(&key, pair.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert, pair.cert.pem())
            .map_err(|e| ConfigError(format!("cannot write {}: {e}", cert.display())))?;
        created = true;
    }
    let acceptor = CertResolver::from_pem_files(&cert, &key)
        .and_then(CertResolver::acceptor)
        .map_err(|e| {
            ConfigError(format!(
                "generated certificate {} unusable ({e}); delete it to make a new one",
                cert.display()
            ))
        })?;
    Ok((acceptor, cert, created))
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), ConfigError> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // The key is readable by the daemon's user only.
        opts.mode(0o600);
    }
    opts.open(path)
        .and_then(|mut f| f.write_all(data))
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))
}

fn hostname() -> Option<String> {
    let h = std::fs::read_to_string("/etc/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty() && h != "localhost").then(|| h.to_string())
}
