//! TLS from PEM files, with rustls (ring provider, TLS 1.2 and 1.3).

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsConfig;
use crate::ServerError;

/// Builds an acceptor from the configured certificate chain and key.
pub(crate) fn acceptor(cfg: &TlsConfig) -> Result<TlsAcceptor, ServerError> {
    let certs = load_certs(&cfg.cert)?;
    let key = PrivateKeyDer::from_pem_file(&cfg.key).map_err(|e| ServerError::Tls {
        what: "private key",
        path: cfg.key.clone(),
        reason: format!("no usable PEM private key ({e})"),
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| ServerError::Tls {
            what: "certificate",
            path: cfg.cert.clone(),
            reason: format!("does not match the key or is unusable ({e})"),
        })?;
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let err = |reason: String| ServerError::Tls {
        what: "certificate",
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(format!("cannot read ({e})")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("invalid PEM ({e})")))?;
    if certs.is_empty() {
        return Err(err("holds no CERTIFICATE block".to_owned()));
    }
    Ok(certs)
}
