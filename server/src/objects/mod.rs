//! Object storage through `aws-sdk-s3`: presigned PUT/GET URLs and HEAD; `multipart`: uploads
//! in parts. The same code talks to
//! the embedded endpoint and to any S3 API; only the endpoint and credentials differ.

mod disposition;
mod multipart;

pub use disposition::{attachment_disposition, inline_disposition};
pub use multipart::{COMPLETION_TIMEOUT, Completion, PartToComplete};

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};

use anyhow::Context as _;
use app::model::{AssetId, Checksum, ChecksumAlgorithm, UrlLifetime};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, Utc};

use crate::meters::Backend;

/// Every object key the service makes starts with this; anything else is not ours.
pub const KEY_PREFIX: &str = "assets/";

pub fn key_for(id: AssetId) -> String {
    format!("{KEY_PREFIX}{id}")
}

/// The asset id an object key belongs to, if the key follows our scheme exactly.
pub fn id_from_key(key: &str) -> Option<AssetId> {
    key.strip_prefix(KEY_PREFIX)?.parse().ok()
}

/// A presigned request: the URL, the headers that were signed into it, and when it expires.
#[derive(Clone, Debug)]
pub struct Presigned {
    pub url: String,
    /// Lowercase names to values.
    pub headers: BTreeMap<String, String>,
    pub expires_at: DateTime<Utc>,
}

/// What a HEAD tells about a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub etag: Option<String>,
    /// Base64 SHA-256 when storage kept one (uploads that declared it).
    pub sha256: Option<String>,
    pub content_type: Option<String>,
}

/// What the upload URL pins down, when the client declared it.
#[derive(Clone, Debug, Default)]
pub struct UploadTerms {
    pub content_type: Option<String>,
    pub size: Option<u64>,
    pub checksum: Option<Checksum>,
    /// The object's user metadata (`x-amz-meta-*`).
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct Objects {
    /// For the server's own calls (HEAD, DELETE).
    client: aws_sdk_s3::Client,
    /// Signs URLs for clients; points at the endpoint's public URL.
    presigner: aws_sdk_s3::Client,
    bucket: String,
    signing: SigningCredentials,
}

/// The expiry of the credentials that sign URLs, looked up at most once a minute: a URL cannot
/// outlive the temporary credentials (STS, SSO, instance role) that signed it.
#[derive(Clone, Default)]
struct SigningCredentials {
    provider: Option<SharedCredentialsProvider>,
    /// When the expiry was last looked up, and what it was.
    cached: Arc<Mutex<Option<CheckedExpiry>>>,
}

type CheckedExpiry = (Instant, Option<SystemTime>);

impl SigningCredentials {
    async fn expiry(&self) -> anyhow::Result<Option<SystemTime>> {
        let Some(provider) = &self.provider else {
            return Ok(None); // static credentials (the embedded endpoint's) do not expire
        };
        if let Some((checked, expiry)) = *self.cached.lock().unwrap_or_else(|p| p.into_inner())
            && checked.elapsed() < Duration::from_secs(60)
        {
            return Ok(expiry);
        }
        let credentials = provider
            .provide_credentials()
            .await
            .context("loading signing credentials")?;
        let expiry = credentials.expiry();
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), expiry));
        Ok(expiry)
    }
}

/// The URL lifetime: as asked, but never past the moment the signing credentials expire.
fn bounded_ttl(
    lifetime: UrlLifetime,
    credentials_expiry: Option<SystemTime>,
    now: SystemTime,
) -> anyhow::Result<Duration> {
    let mut ttl = lifetime.duration();
    if let Some(expiry) = credentials_expiry {
        let left = expiry.duration_since(now).unwrap_or_default();
        anyhow::ensure!(
            left >= Duration::from_secs(1),
            "the signing credentials have expired"
        );
        ttl = ttl.min(left);
    }
    Ok(ttl)
}

impl Objects {
    /// Clients for the embedded endpoint: static credentials, path-style addressing. URLs are
    /// signed for `public_url` (what clients reach); the server's own calls go to `internal_url`.
    pub fn embedded(
        public_url: &str,
        internal_url: &str,
        bucket: &str,
        access_key: &str,
        secret_key: &str,
    ) -> Self {
        let client_for = |endpoint: &str| {
            let config = aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .timeout_config(crate::aws::timeouts())
                .retry_config(crate::aws::retries())
                .region(Region::new(crate::aws::EMBEDDED_REGION))
                .endpoint_url(endpoint)
                .force_path_style(true)
                .credentials_provider(Credentials::new(
                    access_key, secret_key, None, None, "embedded",
                ))
                .build();
            aws_sdk_s3::Client::from_conf(config)
        };
        Self {
            client: client_for(internal_url),
            presigner: client_for(public_url),
            bucket: bucket.to_string(),
            signing: SigningCredentials::default(),
        }
    }

    /// A client for any S3 API, configured by the SDK's default chain; `endpoint` overrides
    /// Amazon S3 (MinIO, R2, a local server).
    pub fn aws(
        sdk: &aws_config::SdkConfig,
        bucket: &str,
        endpoint: Option<&str>,
        path_style: bool,
    ) -> Self {
        let client = crate::aws::s3_client(sdk, endpoint, path_style);
        Self {
            client: client.clone(),
            presigner: client,
            bucket: bucket.to_string(),
            signing: SigningCredentials {
                provider: sdk.credentials_provider(),
                cached: Default::default(),
            },
        }
    }

    /// Whether the bucket answers (for `/readyz`).
    pub async fn ping(&self) -> anyhow::Result<()> {
        let call = self.client.head_bucket().bucket(&self.bucket).send();
        timed("head_bucket", call)
            .await
            .context("HEAD on the bucket")?;
        Ok(())
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub async fn presign_put(
        &self,
        id: AssetId,
        terms: &UploadTerms,
        lifetime: UrlLifetime,
    ) -> anyhow::Result<Presigned> {
        // `If-None-Match: *` is signed in: once the object exists, the URL cannot overwrite it.
        let mut request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key_for(id))
            .if_none_match("*");
        // Declared terms become signed headers: storage refuses a body of another size, type or
        // checksum.
        if let Some(content_type) = &terms.content_type {
            request = request.content_type(content_type);
        }
        if let Some(size) = terms.size {
            request = request.content_length(size as i64);
        }
        if !terms.metadata.is_empty() {
            request = request.set_metadata(Some(terms.metadata.clone().into_iter().collect()));
        }
        match &terms.checksum {
            Some(Checksum {
                algorithm: ChecksumAlgorithm::Sha256,
                base64,
            }) => request = request.checksum_sha256(base64),
            Some(Checksum {
                algorithm: ChecksumAlgorithm::Md5,
                base64,
            }) => request = request.content_md5(base64),
            None => {}
        }
        let (config, expires_at) = self.presigning(lifetime).await?;
        let presigned = timed("presign_put_object", request.presigned(config))
            .await
            .context("presigning an upload URL")?;
        Ok(finish(presigned, expires_at))
    }

    pub async fn presign_get(
        &self,
        id: AssetId,
        content_disposition: &str,
        content_type: &str,
        lifetime: UrlLifetime,
    ) -> anyhow::Result<Presigned> {
        let (config, expires_at) = self.presigning(lifetime).await?;
        let request = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key_for(id))
            .response_content_disposition(content_disposition)
            .response_content_type(content_type)
            .presigned(config);
        let presigned = timed("presign_get_object", request)
            .await
            .context("presigning a download URL")?;
        Ok(finish(presigned, expires_at))
    }

    /// `None` when the object does not exist.
    pub async fn head(&self, id: AssetId) -> anyhow::Result<Option<ObjectInfo>> {
        let started = Instant::now();
        let result = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key_for(id))
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await;
        // A 404 is an answer ("no such object"), not a failure.
        let failed = match &result {
            Ok(_) => false,
            Err(SdkError::ServiceError(err)) => {
                !err.err().is_not_found() && err.raw().status().as_u16() != 404
            }
            Err(_) => true,
        };
        Backend::ObjectStorage.call("head_object", started, failed);
        match result {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length().unwrap_or_default().max(0) as u64,
                etag: out.e_tag().map(|e| e.trim_matches('"').to_string()),
                sha256: out.checksum_sha256().map(str::to_string),
                content_type: out.content_type().map(str::to_string),
            })),
            Err(SdkError::ServiceError(err)) if err.err().is_not_found() => Ok(None),
            Err(SdkError::ServiceError(err)) if err.raw().status().as_u16() == 404 => Ok(None),
            Err(err) => Err(anyhow::Error::new(err).context("HEAD on the object")),
        }
    }
}

impl Objects {
    /// Presigning settings and the moment the URL expires, from one clock reading.
    async fn presigning(
        &self,
        lifetime: UrlLifetime,
    ) -> anyhow::Result<(PresigningConfig, DateTime<Utc>)> {
        let now = SystemTime::now();
        let ttl = bounded_ttl(lifetime, self.signing.expiry().await?, now)?;
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(ttl)
            .build()
            .context("presigning configuration")?;
        Ok((config, DateTime::<Utc>::from(now + ttl)))
    }
}

/// Times an object storage call as `operation`; an error is a failure.
async fn timed<T, E>(
    operation: &'static str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = call.await;
    Backend::ObjectStorage.call(operation, started, result.is_err());
    result
}

fn finish(
    presigned: aws_sdk_s3::presigning::PresignedRequest,
    expires_at: DateTime<Utc>,
) -> Presigned {
    let headers = presigned
        .headers()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .collect();
    Presigned {
        url: presigned.uri().to_string(),
        headers,
        expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lifetimes_end_before_the_signing_credentials_do() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let hour = UrlLifetime::from_secs(3600).unwrap();
        assert_eq!(bounded_ttl(hour, None, now).unwrap(), hour.duration());
        assert_eq!(
            bounded_ttl(UrlLifetime::MAX, None, now).unwrap(),
            UrlLifetime::MAX.duration()
        );
        let soon = now + Duration::from_secs(600);
        assert_eq!(
            bounded_ttl(hour, Some(soon), now).unwrap(),
            Duration::from_secs(600)
        );
        assert!(bounded_ttl(hour, Some(now), now).is_err());
    }

    #[tokio::test]
    async fn urls_signed_with_temporary_credentials_expire_with_them() {
        let expiry = SystemTime::now() + Duration::from_secs(600);
        let credentials = aws_credential_types::Credentials::new(
            "AKID",
            "secret",
            Some("token".into()),
            Some(expiry),
            "sts",
        );
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        let objects = Objects::aws(&sdk, "bucket", None, false);
        let id: AssetId = "1a5ea69a-d30c-11e7-90d0-129b5a655d2d".parse().unwrap();
        let presigned = objects
            .presign_put(
                id,
                &UploadTerms::default(),
                UrlLifetime::from_secs(3600).unwrap(),
            )
            .await
            .unwrap();
        assert!(
            presigned.url.contains("X-Amz-Expires=59"),
            "{}",
            presigned.url
        ); // 599 or 600
        assert!(presigned.expires_at <= DateTime::<Utc>::from(expiry));
        assert!(presigned.url.contains("X-Amz-Security-Token"));
    }

    #[test]
    fn keys_follow_one_scheme() {
        let id: AssetId = "1a5ea69a-d30c-11e7-90d0-129b5a655d2d".parse().unwrap();
        assert_eq!(key_for(id), "assets/1a5ea69a-d30c-11e7-90d0-129b5a655d2d");
        assert_eq!(id_from_key(&key_for(id)), Some(id));
        for other in [
            "1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
            "assets/x",
            "other/1a5ea69a-d30c-11e7-90d0-129b5a655d2d",
            "assets/1a5ea69a-d30c-11e7-90d0-129b5a655d2d/x",
        ] {
            assert_eq!(id_from_key(other), None, "{other}");
        }
    }
}
