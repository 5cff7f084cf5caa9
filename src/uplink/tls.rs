//! Connection options: broker address, credentials from files, last will, and TLS with
//! rustls (`ring` provider) from PEM files, with errors that name the file and the fix.

use std::path::Path;
use std::sync::Arc;

use super::presence::Presence;
use rumqttc::{LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{UplinkError, MAX_INCOMING_PACKET};
use crate::config::MqttConfig;

/// Used for `mqtts://` when no `ca_file` is configured.
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Extra in-flight slots beyond the event window, for status, replies and device states.
const CONTROL_INFLIGHT: u16 = 32;

pub fn status_topic(prefix: &str) -> String {
    format!("{prefix}/status")
}

/// The station's connection options for the broker at `url` (one of `cfg.urls`): persistent
/// session, manual acks for commands, last will on the retained status topic.
pub(crate) fn mqtt_options(cfg: &MqttConfig, url: &url::Url) -> Result<MqttOptions, UplinkError> {
    let mut o = client_options(cfg, url)?;
    o.set_clean_session(false)
        .set_manual_acks(true)
        .set_inflight(cfg.inflight.saturating_add(CONTROL_INFLIGHT))
        .set_last_will(LastWill::new(
            status_topic(&cfg.prefix),
            Presence::last_will().to_bytes(),
            QoS::AtLeastOnce,
            true,
        ));
    Ok(o)
}

/// Address (`url`, one of `cfg.urls`), keep-alive, packet size, credentials and TLS: what any
/// client of ours needs (the daemon, `stationd doctor` and `stationd monitor`).
pub(crate) fn client_options(cfg: &MqttConfig, url: &url::Url) -> Result<MqttOptions, UplinkError> {
    let host = url.host_str().unwrap_or("localhost").trim_start_matches('[').trim_end_matches(']').to_string();
    let tls = url.scheme() == "mqtts";
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let mut o = MqttOptions::new(cfg.client_id.clone(), host, port);
    o.set_keep_alive(cfg.keep_alive).set_max_packet_size(MAX_INCOMING_PACKET, MAX_INCOMING_PACKET);
    let user = cfg.username.clone().or_else(|| (!url.username().is_empty()).then(|| url.username().to_string()));
    if let Some(user) = user {
        let password = match &cfg.password_file {
            Some(p) => read_secret(p)?,
            None => url.password().unwrap_or_default().to_string(),
        };
        o.set_credentials(user, password);
    }
    if tls {
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(client_config(cfg)?))));
    }
    Ok(o)
}

fn read_secret(path: &Path) -> Result<String, UplinkError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_err("password_file", path, e.to_string()))?;
    Ok(text.lines().next().unwrap_or_default().trim_end().to_string())
}

fn file_err(key: &'static str, path: &Path, message: String) -> UplinkError {
    UplinkError::File { key, path: path.display().to_string(), message }
}

pub(crate) fn client_config(cfg: &MqttConfig) -> Result<rustls::ClientConfig, UplinkError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (ca_key, ca_path) = match &cfg.ca_file {
        Some(p) => ("ca_file", p.clone()),
        None => ("ca_file", Path::new(SYSTEM_CA_BUNDLE).to_path_buf()),
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = read_certs(ca_key, &ca_path)?;
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(file_err(ca_key, &ca_path, "holds no usable CA certificate".into()));
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| file_err(ca_key, &ca_path, format!("TLS setup: {e}")))?
        .with_root_certificates(roots);
    match (&cfg.cert_file, &cfg.key_file) {
        (Some(cert), Some(key)) => {
            let chain = read_certs("cert_file", cert)?;
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file_err("key_file", key, format!("no private key in PEM ({e})")))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| file_err("cert_file", cert, format!("certificate and key do not go together: {e}")))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, UplinkError> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| file_err(key, path, format!("cannot read PEM: {e}")))?;
    let certs: Vec<_> = iter.collect::<Result<_, _>>().map_err(|e| file_err(key, path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file_err(key, path, "holds no certificate (expected PEM `BEGIN CERTIFICATE`)".into()));
    }
    Ok(certs)
}
