//! Where notifications go: an SMTP server (TLS, STARTTLS or plain; the public roots or a
//! private authority; pooled connections), or `.eml` files when no server is set.

use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::IN_FLIGHT;
use crate::config::Settings;
use crate::config::mail::{TlsMode, read_ca_file};
use crate::error::{Error, Result};

pub(super) enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    /// The SMTP transport of `mail.smtp`, or `.eml` files in the outbox folder without it.
    pub(super) fn from_settings(settings: &Settings) -> Result<Transport> {
        let transport = match &settings.mail.smtp {
            Some(smtp) => {
                let refused = |error: lettre::transport::smtp::Error| {
                    Error::invalid("mail.smtp", format!("host {:?}: {error}", smtp.host))
                };
                let private_ca = read_ca_file("mail.smtp", &smtp.ca_file)
                    .map_err(|error| Error::invalid("mail.smtp", error.to_string()))?;
                let builder = match (smtp.tls, private_ca) {
                    (TlsMode::None, _) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
                    (TlsMode::Tls, None) => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(refused)?,
                    (TlsMode::Starttls, None) => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host).map_err(refused)?
                    }
                    (mode, Some(pem)) => {
                        // The public roots and the private authority.
                        let parameters = TlsParameters::builder(smtp.host.clone())
                            .add_root_certificate(Certificate::from_pem(&pem).map_err(refused)?)
                            .build_rustls()
                            .map_err(refused)?;
                        let tls =
                            if mode == TlsMode::Tls { Tls::Wrapper(parameters) } else { Tls::Required(parameters) };
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host).tls(tls)
                    }
                }
                .port(smtp.port())
                .timeout(Some(Duration::from_secs(60)))
                .pool_config(PoolConfig::new().max_size(IN_FLIGHT as u32));
                let credentials = smtp.credentials().map_err(|error| Error::invalid("mail.smtp", error.to_string()))?;
                let builder = match credentials {
                    Some((user, password)) => builder.credentials(Credentials::new(user, password)),
                    None => builder,
                };
                Transport::Smtp(builder.build())
            }
            None => {
                let folder = settings.mail_outbox_dir();
                std::fs::create_dir_all(&folder)
                    .map_err(|error| Error::internal(format!("creating {}", folder.display()), error))?;
                Transport::Files(AsyncFileTransport::new(folder))
            }
        };
        Ok(transport)
    }

    /// Sends one mail; the error as the server or the file system put it.
    pub(super) async fn send(&self, message: Message) -> std::result::Result<(), String> {
        match self {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|error| error.to_string()),
            Transport::Files(files) => files.send(message).await.map(|_| ()).map_err(|error| error.to_string()),
        }
    }
}
