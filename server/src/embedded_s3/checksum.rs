//! Integrity checks on uploaded bytes, as S3 makes them: `Content-MD5` and the flexible
//! checksums (CRC32, CRC32C, CRC64NVME, SHA-1, SHA-256), sent as headers or as aws-chunked
//! trailers. Every algorithm a request names is computed while the body streams and compared at
//! the end; a mismatch stores nothing (`BadDigest`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use md5::{Digest as _, Md5};
use s3s::checksum::ChecksumHasher;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Sha1, Sha256};
use s3s::dto::ChecksumAlgorithm;
use s3s::{S3Result, TrailingHeaders, s3_error};

use super::disk::Checksums;

/// Copies the five checksum fields of a `Checksums` into an S3 output that has them.
macro_rules! with_sums {
    ($sums:expr, $out:expr) => {{
        let (sums, mut out) = ($sums, $out);
        out.checksum_crc32 = sums.crc32.clone();
        out.checksum_crc32c = sums.crc32c.clone();
        out.checksum_crc64nvme = sums.crc64nvme.clone();
        out.checksum_sha1 = sums.sha1.clone();
        out.checksum_sha256 = sums.sha256.clone();
        out
    }};
}
pub(super) use with_sums;

/// The five algorithms, by S3's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub(super) const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    pub(super) fn parse(name: &str) -> S3Result<Self> {
        match name.to_ascii_uppercase().as_str() {
            ChecksumAlgorithm::CRC32 => Ok(Self::Crc32),
            ChecksumAlgorithm::CRC32C => Ok(Self::Crc32c),
            ChecksumAlgorithm::CRC64NVME => Ok(Self::Crc64Nvme),
            ChecksumAlgorithm::SHA1 => Ok(Self::Sha1),
            ChecksumAlgorithm::SHA256 => Ok(Self::Sha256),
            _ => Err(s3_error!(
                InvalidRequest,
                "Value for x-amz-checksum-algorithm header is invalid."
            )),
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub(super) fn is_crc(self) -> bool {
        !matches!(self, Self::Sha1 | Self::Sha256)
    }

    pub(super) fn get(self, sums: &Checksums) -> Option<&String> {
        match self {
            Self::Crc32 => sums.crc32.as_ref(),
            Self::Crc32c => sums.crc32c.as_ref(),
            Self::Crc64Nvme => sums.crc64nvme.as_ref(),
            Self::Sha1 => sums.sha1.as_ref(),
            Self::Sha256 => sums.sha256.as_ref(),
        }
    }

    pub(super) fn slot(self, sums: &mut Checksums) -> &mut Option<String> {
        match self {
            Self::Crc32 => &mut sums.crc32,
            Self::Crc32c => &mut sums.crc32c,
            Self::Crc64Nvme => &mut sums.crc64nvme,
            Self::Sha1 => &mut sums.sha1,
            Self::Sha256 => &mut sums.sha256,
        }
    }

    /// The checksum of `data` in one go (composite multipart checksums hash the parts' sums).
    pub(super) fn digest(self, data: &[u8]) -> String {
        match self {
            Self::Crc32 => BASE64.encode(Crc32::checksum(data)),
            Self::Crc32c => BASE64.encode(Crc32c::checksum(data)),
            Self::Crc64Nvme => BASE64.encode(Crc64Nvme::checksum(data)),
            Self::Sha1 => BASE64.encode(Sha1::checksum(data)),
            Self::Sha256 => BASE64.encode(Sha256::checksum(data)),
        }
    }
}

/// What a request declares about its body.
#[derive(Default)]
pub(super) struct Declared {
    pub(super) content_md5: Option<String>,
    /// Values sent as headers.
    pub(super) sums: Checksums,
    /// `x-amz-sdk-checksum-algorithm`: the value may come as a trailer.
    pub(super) algorithm: Option<ChecksumAlgorithm>,
}

/// Hashes a body as it streams and checks it against what the request declared.
pub(super) struct BodyCheck {
    md5: Md5,
    hasher: ChecksumHasher,
    declared: Declared,
    size: u64,
}

/// The verified digests of a body.
pub(super) struct Verified {
    pub(super) md5_hex: String,
    pub(super) size: u64,
    /// The checksums to keep: the ones declared (or computed for the named algorithm).
    pub(super) sums: Checksums,
}

impl BodyCheck {
    /// `default_crc64` computes CRC64NVME when nothing else is named (S3 keeps one for every
    /// new object).
    pub(super) fn new(declared: Declared, default_crc64: bool) -> S3Result<Self> {
        let mut named: Vec<Algorithm> = Algorithm::ALL
            .into_iter()
            .filter(|a| a.get(&declared.sums).is_some())
            .collect();
        if let Some(algorithm) = &declared.algorithm {
            let algorithm = Algorithm::parse(algorithm.as_str())?;
            if !named.contains(&algorithm) {
                named.push(algorithm);
            }
        }
        if named.len() > 1 {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        if named.is_empty() && default_crc64 {
            named.push(Algorithm::Crc64Nvme);
        }
        let mut hasher = ChecksumHasher::default();
        for algorithm in named {
            match algorithm {
                Algorithm::Crc32 => hasher.crc32 = Some(Crc32::new()),
                Algorithm::Crc32c => hasher.crc32c = Some(Crc32c::new()),
                Algorithm::Crc64Nvme => hasher.crc64nvme = Some(Crc64Nvme::new()),
                Algorithm::Sha1 => hasher.sha1 = Some(Sha1::new()),
                Algorithm::Sha256 => hasher.sha256 = Some(Sha256::new()),
            }
        }
        Ok(Self {
            md5: Md5::new(),
            hasher,
            declared,
            size: 0,
        })
    }

    pub(super) fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
    }

    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// Compares every declared digest (headers, then trailers, which arrive after the body).
    pub(super) fn finish(self, trailers: Option<&TrailingHeaders>) -> S3Result<Verified> {
        let md5: [u8; 16] = self.md5.finalize().into();
        if let Some(declared) = &self.declared.content_md5
            && *declared != BASE64.encode(md5)
        {
            return Err(s3_error!(
                BadDigest,
                "The Content-MD5 you specified did not match what we received."
            ));
        }
        let mut declared = self.declared.sums;
        if let Some(trailers) = trailers.and_then(TrailingHeaders::take) {
            for algorithm in Algorithm::ALL {
                if let Some(value) = trailers.get(algorithm.header()) {
                    let value = value.to_str().map_err(|_| {
                        s3_error!(InvalidRequest, "invalid trailer {}", algorithm.header())
                    })?;
                    *algorithm.slot(&mut declared) = Some(value.to_string());
                }
            }
        }
        let computed = self.hasher.finalize();
        let mut sums = Checksums {
            crc32: computed.checksum_crc32,
            crc32c: computed.checksum_crc32c,
            crc64nvme: computed.checksum_crc64nvme,
            sha1: computed.checksum_sha1,
            sha256: computed.checksum_sha256,
            kind: None,
        };
        for algorithm in Algorithm::ALL {
            if let Some(expected) = algorithm.get(&declared) {
                match algorithm.get(&sums) {
                    Some(actual) if actual == expected => {}
                    Some(_) => {
                        return Err(s3_error!(
                            BadDigest,
                            "The {} you specified did not match the calculated checksum.",
                            algorithm.name()
                        ));
                    }
                    // A trailer for an algorithm the request did not announce.
                    None => {
                        return Err(s3_error!(
                            InvalidRequest,
                            "The {} trailer was not announced by x-amz-sdk-checksum-algorithm.",
                            algorithm.name()
                        ));
                    }
                }
            }
        }
        if Algorithm::ALL.iter().any(|a| a.get(&sums).is_some()) {
            sums.kind = Some("FULL_OBJECT".to_string());
        }
        Ok(Verified {
            md5_hex: hex::encode(md5),
            size: self.size,
            sums,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(declared: Declared, body: &[u8]) -> S3Result<Verified> {
        let mut check = BodyCheck::new(declared, true)?;
        check.update(body);
        check.finish(None)
    }

    #[test]
    fn every_algorithm_is_verified_and_kept() {
        for algorithm in Algorithm::ALL {
            let mut sums = Checksums::default();
            *algorithm.slot(&mut sums) = Some(algorithm.digest(b"hello"));
            let verified = check(
                Declared {
                    sums: sums.clone(),
                    ..Declared::default()
                },
                b"hello",
            )
            .unwrap();
            assert_eq!(algorithm.get(&verified.sums), algorithm.get(&sums));

            *algorithm.slot(&mut sums) = Some(algorithm.digest(b"other"));
            let err = check(
                Declared {
                    sums,
                    ..Declared::default()
                },
                b"hello",
            )
            .err()
            .unwrap();
            assert_eq!(err.code().as_str(), "BadDigest", "{algorithm:?}");
        }
    }

    #[test]
    fn crc64nvme_is_computed_when_nothing_is_declared_and_md5_is_checked() {
        let verified = check(Declared::default(), b"hello").unwrap();
        assert_eq!(
            verified.sums.crc64nvme,
            Some(Algorithm::Crc64Nvme.digest(b"hello"))
        );
        assert_eq!(verified.md5_hex, "5d41402abc4b2a76b9719d911017c592");
        let wrong = Declared {
            content_md5: Some(BASE64.encode([0u8; 16])),
            ..Declared::default()
        };
        assert_eq!(
            check(wrong, b"hello").err().unwrap().code().as_str(),
            "BadDigest"
        );
    }

    #[test]
    fn two_algorithms_at_once_are_refused() {
        let sums = Checksums {
            crc32: Some(Algorithm::Crc32.digest(b"x")),
            sha1: Some(Algorithm::Sha1.digest(b"x")),
            ..Checksums::default()
        };
        let declared = Declared {
            sums,
            ..Declared::default()
        };
        assert!(BodyCheck::new(declared, true).is_err());
    }
}
