//! TLS server configuration: rustls 0.23 on the ring provider, with an SNI certificate resolver.
//!
//! [`CertResolver`] holds a default certificate and certificates per server name. A client's SNI
//! name is matched exactly (case-insensitively), then against a wildcard `*.<parent>` entry; anything
//! else (including clients that send no SNI) gets the default certificate, as WildDuck does.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::NetError;

/// A TLS acceptor (tokio-rustls) for implicit TLS and for STARTTLS upgrades.
pub type TlsAcceptor = tokio_rustls::TlsAcceptor;

fn tls_err(e: impl std::fmt::Display) -> NetError {
    NetError::Tls(e.to_string())
}

/// A certificate chain and its private key from PEM text (any of PKCS#8, PKCS#1 or SEC1 keys).
pub fn certified_key_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, NetError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(tls_err)?;
    if certs.is_empty() {
        return Err(NetError::Tls("no certificate in PEM input".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(tls_err)?;
    let signer = provider::sign::any_supported_type(&key).map_err(tls_err)?;
    let ck = CertifiedKey::new(certs, signer);
    // Refuse a key that does not belong to the certificate now, not at the first handshake.
    ck.keys_match().map_err(tls_err)?;
    Ok(ck)
}

/// Resolves the certificate for a handshake from its SNI name.
#[derive(Debug, Clone)]
pub struct CertResolver {
    default: Arc<CertifiedKey>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl CertResolver {
    /// A resolver that serves `default` to every client.
    pub fn new(default: CertifiedKey) -> Self {
        Self {
            default: Arc::new(default),
            by_name: HashMap::new(),
        }
    }

    /// A resolver from a default certificate and key in PEM.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, NetError> {
        Ok(Self::new(certified_key_from_pem(cert_pem, key_pem)?))
    }

    /// A resolver from PEM files.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, NetError> {
        Self::from_pem(&std::fs::read(cert)?, &std::fs::read(key)?)
    }

    /// Serves `key` to clients asking for `servername` (`*.example.com` covers one label below
    /// `example.com`).
    pub fn add(&mut self, servername: &str, key: CertifiedKey) {
        self.by_name.insert(
            servername.trim_end_matches('.').to_ascii_lowercase(),
            Arc::new(key),
        );
    }

    /// [`CertResolver::add`] from PEM text.
    pub fn add_pem(
        &mut self,
        servername: &str,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<(), NetError> {
        self.add(servername, certified_key_from_pem(cert_pem, key_pem)?);
        Ok(())
    }

    /// [`CertResolver::add`] from PEM files.
    pub fn add_pem_files(
        &mut self,
        servername: &str,
        cert: &Path,
        key: &Path,
    ) -> Result<(), NetError> {
        self.add_pem(servername, &std::fs::read(cert)?, &std::fs::read(key)?)
    }

    /// The certificate for `servername` (`None` = no SNI): exact name, then wildcard, then the
    /// default.
    pub fn lookup(&self, servername: Option<&str>) -> Arc<CertifiedKey> {
        if let Some(name) = servername {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(k) = self.by_name.get(&name) {
                return k.clone();
            }
            if let Some((_, parent)) = name.split_once('.')
                && let Some(k) = self.by_name.get(&format!("*.{parent}"))
            {
                return k.clone();
            }
        }
        self.default.clone()
    }

    /// A rustls server configuration using this resolver (TLS 1.2 and 1.3, ring provider).
    pub fn server_config(self) -> Result<Arc<ServerConfig>, NetError> {
        let config = ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(self));
        Ok(Arc::new(config))
    }

    /// A tokio-rustls acceptor over [`CertResolver::server_config`].
    pub fn acceptor(self) -> Result<TlsAcceptor, NetError> {
        Ok(TlsAcceptor::from(self.server_config()?))
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.lookup(client_hello.server_name()))
    }
}

/// Where certificates come from in a configuration file: a default pair and pairs per server name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain served by default.
    pub cert: std::path::PathBuf,
    /// PEM private key of `cert`.
    pub key: std::path::PathBuf,
    /// `(servername, cert, key)` for SNI.
    pub sni: Vec<(String, std::path::PathBuf, std::path::PathBuf)>,
}

impl TlsFiles {
    /// Loads every file into an acceptor.
    pub fn acceptor(&self) -> Result<TlsAcceptor, NetError> {
        let mut r = CertResolver::from_pem_files(&self.cert, &self.key)?;
        for (name, cert, key) in &self.sni {
            r.add_pem_files(name, cert, key)?;
        }
        r.acceptor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("cert");
        (c.cert.pem(), c.signing_key.serialize_pem())
    }

    #[test]
    fn sni_lookup_prefers_exact_then_wildcard_then_default() {
        let (dc, dk) = pair("default.test");
        let (ac, ak) = pair("a.test");
        let (wc, wk) = pair("*.w.test");
        let mut r = CertResolver::from_pem(dc.as_bytes(), dk.as_bytes()).expect("default");
        r.add_pem("A.test", ac.as_bytes(), ak.as_bytes())
            .expect("a");
        r.add_pem("*.w.test", wc.as_bytes(), wk.as_bytes())
            .expect("w");
        let der = |k: Arc<CertifiedKey>| k.cert[0].to_vec();
        let default = der(r.lookup(None));
        assert_eq!(
            der(r.lookup(Some("a.TEST."))),
            der(r.lookup(Some("a.test")))
        );
        assert_ne!(der(r.lookup(Some("a.test"))), default);
        assert_ne!(der(r.lookup(Some("x.w.test"))), default);
        assert_eq!(der(r.lookup(Some("x.y.w.test"))), default);
        assert_eq!(der(r.lookup(Some("other.test"))), default);
        assert!(r.server_config().is_ok());
    }

    #[test]
    fn bad_pem_is_refused() {
        let (c, k) = pair("x.test");
        let (_, other_key) = pair("y.test");
        assert!(CertResolver::from_pem(b"", k.as_bytes()).is_err());
        assert!(CertResolver::from_pem(c.as_bytes(), b"junk").is_err());
        assert!(CertResolver::from_pem(c.as_bytes(), other_key.as_bytes()).is_err());
    }
}
