//! Object storage through `aws-sdk-s3`: presigned PUT/GET URLs, HEAD and DELETE. The same code
//! talks to the embedded endpoint and to any S3 API; only the endpoint and credentials differ.

use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use app::model::{AssetId, MAX_URL_TTL_SECS};
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
    pub content_type: Option<String>,
}

/// What the upload URL pins down, when the client declared it.
#[derive(Clone, Debug, Default)]
pub struct UploadTerms {
    pub content_type: Option<String>,
    pub size: Option<u64>,
}

#[derive(Clone)]
pub struct Objects {
    /// For the server's own calls (HEAD, DELETE).
    client: aws_sdk_s3::Client,
    /// Signs URLs for clients; points at the endpoint's public URL.
    presigner: aws_sdk_s3::Client,
    bucket: String,
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
        let mut request = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key_for(id));
        // Declared terms become signed headers: storage refuses a body of another size or type.
        if let Some(content_type) = &terms.content_type {
            request = request.content_type(content_type);
        }
        if let Some(size) = terms.size {
            request = request.content_length(size as i64);
        }
        let presigned = request
            .presigned(presigning(ttl)?)
            .await
            .context("presigning an upload URL")?;
        Ok(finish(presigned, ttl))
    }

    pub async fn presign_get(
        &self,
        id: AssetId,
        content_disposition: &str,
        content_type: &str,
        ttl: Duration,
    ) -> anyhow::Result<Presigned> {
        let presigned = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key_for(id))
            .response_content_disposition(content_disposition)
            .response_content_type(content_type)
            .presigned(presigning(ttl)?)
            .await
            .context("presigning a download URL")?;
        Ok(finish(presigned, ttl))
    }

    /// `None` when the object does not exist.
    pub async fn head(&self, id: AssetId) -> anyhow::Result<Option<ObjectInfo>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key_for(id))
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                size: out.content_length().unwrap_or_default().max(0) as u64,
                etag: out.e_tag().map(|e| e.trim_matches('"').to_string()),
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

fn presigning(ttl: Duration) -> anyhow::Result<PresigningConfig> {
    let ttl = ttl.clamp(
        Duration::from_secs(1),
        Duration::from_secs(MAX_URL_TTL_SECS),
    );
    PresigningConfig::builder()
        .start_time(SystemTime::now())
        .expires_in(ttl)
        .build()
        .context("presigning configuration")
}

fn finish(presigned: aws_sdk_s3::presigning::PresignedRequest, ttl: Duration) -> Presigned {
    let headers = presigned
        .headers()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    Presigned {
        url: presigned.uri().to_string(),
        headers,
        expires_at: Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
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
