//! Object storage through `aws-sdk-s3`: presigned PUT/GET URLs, HEAD and DELETE. The same code
//! talks to the embedded endpoint and to any S3 API; only the endpoint and credentials differ.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};

use anyhow::Context as _;
use app::model::{AssetId, Checksum, ChecksumAlgorithm, MAX_URL_TTL_SECS};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use chrono::{DateTime, Utc};

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
    pub headers: Vec<(String, String)>,
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

/// The URL lifetime: as asked, within 1 s..7 days and before the signing credentials expire.
fn bounded_ttl(
    ttl: Duration,
    credentials_expiry: Option<SystemTime>,
    now: SystemTime,
) -> anyhow::Result<Duration> {
    let mut ttl = ttl.clamp(
        Duration::from_secs(1),
        Duration::from_secs(MAX_URL_TTL_SECS),
    );
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
                .region(Region::new(crate::embedded_s3::REGION))
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
        let mut config = aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style);
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        let client = aws_sdk_s3::Client::from_conf(config.build());
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
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .context("HEAD on the bucket")?;
        Ok(())
    }

    /// Creates the bucket if needed and sets the CORS rules browsers need to upload and
    /// download with presigned URLs from the dashboard's origins (ETag exposed).
    pub async fn create_bucket_with_cors(&self, origins: &[String]) -> anyhow::Result<()> {
        use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => tracing::info!(bucket = %self.bucket, "bucket created"),
            Err(SdkError::ServiceError(e))
                if e.err().is_bucket_already_owned_by_you()
                    || e.err().is_bucket_already_exists() =>
            {
                tracing::info!(bucket = %self.bucket, "bucket exists");
            }
            Err(err) => return Err(anyhow::Error::new(err).context("creating the bucket")),
        }
        let rule = CorsRule::builder()
            .set_allowed_origins(Some(origins.to_vec()))
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .allowed_methods("HEAD")
            .allowed_headers("*")
            .expose_headers("ETag")
            .max_age_seconds(3600)
            .build()?;
        self.client
            .put_bucket_cors()
            .bucket(&self.bucket)
            .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build()?)
            .send()
            .await
            .context("setting the bucket's CORS rules")?;
        Ok(())
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub async fn presign_put(
        &self,
        id: AssetId,
        terms: &UploadTerms,
        ttl: Duration,
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
        let (config, expires_at) = self.presigning(ttl).await?;
        let presigned = request
            .presigned(config)
            .await
            .context("presigning an upload URL")?;
        Ok(finish(presigned, expires_at))
    }

    pub async fn presign_get(
        &self,
        id: AssetId,
        content_disposition: &str,
        content_type: &str,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        let (config, expires_at) = self.presigning(ttl).await?;
        let presigned = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key_for(id))
            .response_content_disposition(content_disposition)
            .response_content_type(content_type)
            .presigned(config)
            .await
            .context("presigning a download URL")?;
        Ok(finish(presigned, expires_at))
    }

    /// `None` when the object does not exist.
    pub async fn head(&self, id: AssetId) -> anyhow::Result<Option<ObjectInfo>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key_for(id))
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
        {
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

    pub async fn delete(&self, id: AssetId) -> anyhow::Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key_for(id))
            .send()
            .await
            .context("deleting the object")?;
        Ok(())
    }
}

impl Objects {
    /// Presigning settings and the moment the URL expires, from one clock reading.
    async fn presigning(&self, ttl: Duration) -> anyhow::Result<(PresigningConfig, DateTime<Utc>)> {
        let now = SystemTime::now();
        let ttl = bounded_ttl(ttl, self.signing.expiry().await?, now)?;
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(ttl)
            .build()
            .context("presigning configuration")?;
        Ok((config, DateTime::<Utc>::from(now + ttl)))
    }
}

fn finish(
    presigned: aws_sdk_s3::presigning::PresignedRequest,
    expires_at: DateTime<Utc>,
) -> Presigned {
    let headers = presigned
        .headers()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    Presigned {
        url: presigned.uri().to_string(),
        headers,
        expires_at,
    }
}

/// `Content-Disposition: attachment` for a download, safe for any filename (RFC 6266 / 5987):
/// an ASCII fallback with quotes, backslashes, controls and path separators replaced, plus the
/// exact name percent-encoded as UTF-8 in `filename*`.
pub fn attachment_disposition(filename: &str) -> String {
    let base = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    let base = if base.trim().is_empty() {
        "download"
    } else {
        base
    };
    let fallback: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(base, RFC5987_ATTR).to_string();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else is percent-encoded.
const RFC5987_ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_lifetimes_stay_within_bounds_and_the_credentials_life() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let hour = Duration::from_secs(3600);
        assert_eq!(bounded_ttl(hour, None, now).unwrap(), hour);
        assert_eq!(
            bounded_ttl(Duration::ZERO, None, now).unwrap(),
            Duration::from_secs(1)
        );
        assert_eq!(
            bounded_ttl(hour * 24 * 30, None, now).unwrap(),
            Duration::from_secs(MAX_URL_TTL_SECS)
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
            .presign_put(id, &UploadTerms::default(), Duration::from_secs(3600))
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

    #[test]
    fn hostile_filenames_become_safe_attachments() {
        assert_eq!(
            attachment_disposition("report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
        );
        let hostile = attachment_disposition("../../etc/pa\"ss\r\nX-Evil: 1;.txt");
        assert!(
            !hostile.contains('\r') && !hostile.contains('\n'),
            "{hostile}"
        );
        assert!(
            hostile.starts_with("attachment; filename=\"pa_ss__X-Evil: 1_.txt\""),
            "{hostile}"
        );
        assert!(
            hostile.ends_with("filename*=UTF-8''pa%22ss%0D%0AX-Evil%3A%201%3B.txt"),
            "{hostile}"
        );
        let unicode = attachment_disposition("résumé 📄.txt");
        assert!(
            unicode.contains("filename*=UTF-8''r%C3%A9sum%C3%A9%20%F0%9F%93%84.txt"),
            "{unicode}"
        );
        assert!(unicode.is_ascii());
        assert!(attachment_disposition("a\\b/").contains("filename=\"download\""));
    }
}
