//! Authenticating Amazon SNS HTTP(S) deliveries before anything they say is believed.
//!
//! SNS signs every message (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) over a canonical
//! string of its fields, with a certificate it serves at `SigningCertURL`. We fetch that
//! certificate only over https from `sns.<region>.amazonaws.com` (the region of the TopicArn),
//! only for topics on the allow-list, and confirm a subscription only after its message checks
//! out. See the SNS developer guide, "Verifying the signatures of Amazon SNS messages".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::Verifier as _;
use serde::Deserialize;
use x509_cert::der::{DecodePem as _, Encode as _};

/// An SNS HTTP(S) message (`x-amz-sns-message-type` is one of its `Type`s).
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    #[serde(rename = "Type")]
    pub kind: String,
    pub message_id: String,
    pub topic_arn: String,
    #[serde(default)]
    pub subject: Option<String>,
    pub message: String,
    pub timestamp: String,
    pub signature_version: String,
    pub signature: String,
    #[serde(rename = "SigningCertURL")]
    pub signing_cert_url: String,
    #[serde(rename = "SubscribeURL", default)]
    pub subscribe_url: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

impl SnsMessage {
    /// Whether a JSON body looks like an SNS message (it has the fields SNS always sends).
    pub fn looks_like(value: &serde_json::Value) -> bool {
        ["Type", "TopicArn", "Signature", "SigningCertURL"]
            .iter()
            .all(|field| value.get(field).is_some())
    }

    /// The string SNS signed: "Name\nValue\n" for each signed field, in this order.
    fn canonical(&self) -> Result<String, SnsRejected> {
        let mut fields: Vec<(&str, &str)> =
            vec![("Message", &self.message), ("MessageId", &self.message_id)];
        match self.kind.as_str() {
            "Notification" => {
                if let Some(subject) = &self.subject {
                    fields.push(("Subject", subject));
                }
                fields.extend([
                    ("Timestamp", self.timestamp.as_str()),
                    ("TopicArn", &self.topic_arn),
                ]);
            }
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                let subscribe_url = self
                    .subscribe_url
                    .as_deref()
                    .ok_or(SnsRejected("no SubscribeURL"))?;
                let token = self.token.as_deref().ok_or(SnsRejected("no Token"))?;
                fields.extend([
                    ("SubscribeURL", subscribe_url),
                    ("Timestamp", self.timestamp.as_str()),
                    ("Token", token),
                    ("TopicArn", &self.topic_arn),
                ]);
            }
            _ => return Err(SnsRejected("unknown message type")),
        }
        fields.push(("Type", &self.kind));
        Ok(fields
            .iter()
            .map(|(name, value)| format!("{name}\n{value}\n"))
            .collect())
    }
}

/// Why a message was not accepted as coming from SNS.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("SNS message rejected: {0}")]
pub struct SnsRejected(pub &'static str);

/// Where signing certificates come from and where confirmations go: AWS over https in
/// production. Only URLs that passed `aws_url` reach it.
#[async_trait]
pub trait SnsEndpoints: Send + Sync + 'static {
    /// The PEM certificate at `url`.
    async fn certificate(&self, url: &str) -> anyhow::Result<String>;
    /// Visits a `SubscribeURL` to confirm the subscription.
    async fn confirm(&self, subscribe_url: &str) -> anyhow::Result<()>;
}

/// The real SNS endpoints, over https only, with short timeouts.
pub struct HttpsSns {
    client: reqwest::Client,
}

impl HttpsSns {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .https_only(true)
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the SNS https client")?;
        Ok(Self { client })
    }
}

#[async_trait]
impl SnsEndpoints for HttpsSns {
    async fn certificate(&self, url: &str) -> anyhow::Result<String> {
        let response = self.client.get(url).send().await?.error_for_status()?;
        let body = response.bytes().await?;
        anyhow::ensure!(body.len() < 64 * 1024, "certificate too large");
        Ok(String::from_utf8(body.to_vec())?)
    }

    async fn confirm(&self, subscribe_url: &str) -> anyhow::Result<()> {
        self.client
            .get(subscribe_url)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

/// Verifies SNS messages for the allowed topics.
#[derive(Clone)]
pub struct SnsVerifier {
    allowed_topics: Vec<String>,
    endpoints: Arc<dyn SnsEndpoints>,
    keys: Arc<Mutex<HashMap<String, RsaPublicKey>>>,
}

/// What a verified message asks of us.
#[derive(Debug, PartialEq, Eq)]
pub enum SnsDelivery {
    /// A notification: its `Message` is the S3 event body.
    Notification(String),
    /// A subscription confirmation, already confirmed.
    Subscribed,
    /// Nothing to do (unsubscribe confirmations).
    Ignored,
}

impl SnsVerifier {
    pub fn new(allowed_topics: Vec<String>, endpoints: Arc<dyn SnsEndpoints>) -> Self {
        Self {
            allowed_topics,
            endpoints,
            keys: Default::default(),
        }
    }

    /// Checks the message and, for a subscription confirmation, confirms it.
    /// `Err(Rejected)` means "not from SNS for an allowed topic": nothing may change.
    pub async fn accept(&self, message: &SnsMessage) -> Result<SnsDelivery, SnsError> {
        self.verify(message).await?;
        match message.kind.as_str() {
            "Notification" => Ok(SnsDelivery::Notification(message.message.clone())),
            "SubscriptionConfirmation" => {
                let url = message.subscribe_url.as_deref().unwrap_or_default();
                let region =
                    topic_region(&message.topic_arn).ok_or(SnsRejected("malformed TopicArn"))?;
                aws_url(url, region).ok_or(SnsRejected("SubscribeURL is not an SNS https URL"))?;
                self.endpoints
                    .confirm(url)
                    .await
                    .map_err(SnsError::Unavailable)?;
                tracing::info!(topic_arn = %message.topic_arn, "SNS subscription confirmed");
                Ok(SnsDelivery::Subscribed)
            }
            _ => Ok(SnsDelivery::Ignored),
        }
    }

    async fn verify(&self, message: &SnsMessage) -> Result<(), SnsError> {
        if !self.allowed_topics.contains(&message.topic_arn) {
            return Err(SnsRejected("topic is not on the allow-list").into());
        }
        let region = topic_region(&message.topic_arn).ok_or(SnsRejected("malformed TopicArn"))?;
        let cert_url = aws_url(&message.signing_cert_url, region)
            .filter(|url| url.path().ends_with(".pem"))
            .ok_or(SnsRejected("SigningCertURL is not an SNS https URL"))?;
        let canonical = message.canonical()?;
        let signature = BASE64
            .decode(&message.signature)
            .map_err(|_| SnsRejected("signature is not base64"))?;
        let signature = Signature::try_from(signature.as_slice())
            .map_err(|_| SnsRejected("malformed signature"))?;
        let key = self.key(cert_url.as_str()).await?;
        let verified = match message.signature_version.as_str() {
            "1" => VerifyingKey::<sha1::Sha1>::new(key).verify(canonical.as_bytes(), &signature),
            "2" => VerifyingKey::<sha2::Sha256>::new(key).verify(canonical.as_bytes(), &signature),
            _ => return Err(SnsRejected("unknown SignatureVersion").into()),
        };
        verified.map_err(|_| SnsRejected("signature does not match").into())
    }

    async fn key(&self, url: &str) -> Result<RsaPublicKey, SnsError> {
        if let Some(key) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(url) {
            return Ok(key.clone());
        }
        let pem = self
            .endpoints
            .certificate(url)
            .await
            .map_err(SnsError::Unavailable)?;
        let key =
            public_key(&pem).ok_or(SnsRejected("signing certificate is not an RSA certificate"))?;
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_string(), key.clone());
        Ok(key)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    #[error(transparent)]
    Rejected(#[from] SnsRejected),
    /// The certificate or confirmation could not be fetched: retry later.
    #[error("SNS unreachable: {0}")]
    Unavailable(anyhow::Error),
}

fn public_key(pem: &str) -> Option<RsaPublicKey> {
    let certificate = x509_cert::Certificate::from_pem(pem.trim().as_bytes()).ok()?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .ok()?;
    RsaPublicKey::from_public_key_der(&spki).ok()
}

/// `arn:aws:sns:<region>:<account>:<name>` -> region.
fn topic_region(topic_arn: &str) -> Option<&str> {
    let mut parts = topic_arn.split(':');
    let (arn, _partition, service, region) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (arn == "arn" && service == "sns" && !region.is_empty()).then_some(region)
}

/// `url` if it is https on exactly `sns.<region>.amazonaws.com` (or `.com.cn`), default port.
fn aws_url(url: &str, region: &str) -> Option<reqwest::Url> {
    let url = reqwest::Url::parse(url).ok()?;
    let host = url.host_str()?;
    let expected = [
        format!("sns.{region}.amazonaws.com"),
        format!("sns.{region}.amazonaws.com.cn"),
    ];
    let ok = url.scheme() == "https"
        && url.port().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && expected.iter().any(|e| e == host);
    ok.then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_https_urls_of_the_topic_region_pass() {
        let good = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem";
        assert!(aws_url(good, "eu-west-1").is_some());
        for bad in [
            "http://sns.eu-west-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.eu-west-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.eu-west-1.amazonaws.com/x.pem",
            "https://sns.eu-west-1.amazonaws.com:8443/x.pem",
            "https://user@sns.eu-west-1.amazonaws.com/x.pem",
            "not a url",
        ] {
            assert!(aws_url(bad, "eu-west-1").is_none(), "{bad}");
        }
        assert_eq!(
            topic_region("arn:aws:sns:eu-west-1:123456789012:uploads"),
            Some("eu-west-1")
        );
        assert_eq!(
            topic_region("arn:aws:sqs:eu-west-1:123456789012:uploads"),
            None
        );
    }

    #[test]
    fn canonical_strings_follow_the_sns_field_order() {
        let message = SnsMessage {
            kind: "Notification".into(),
            message_id: "id".into(),
            topic_arn: "arn:aws:sns:eu-west-1:1:t".into(),
            subject: None,
            message: "body".into(),
            timestamp: "2026-11-26T00:00:00.000Z".into(),
            signature_version: "1".into(),
            signature: String::new(),
            signing_cert_url: String::new(),
            subscribe_url: None,
            token: None,
        };
        assert_eq!(
            message.canonical().unwrap(),
            "Message\nbody\nMessageId\nid\nTimestamp\n2026-11-26T00:00:00.000Z\nTopicArn\narn:aws:sns:eu-west-1:1:t\nType\nNotification\n"
        );
    }
}
