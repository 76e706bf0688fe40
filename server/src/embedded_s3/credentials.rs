//! The access key and secret the embedded endpoint accepts. Kept in the data directory so URLs
//! signed before a restart stay valid after it; created once, never silently replaced.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

const FILE_NAME: &str = "embedded-s3-credentials.json";

#[derive(Clone, Serialize, Deserialize)]
pub struct EmbeddedCredentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for EmbeddedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl EmbeddedCredentials {
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// Reads the credentials, or creates them when the file does not exist. Any other failure
    /// (permissions, a corrupt file) stops start-up: new credentials would invalidate every URL
    /// already handed out.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(data_dir);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not valid embedded S3 credentials; fix or remove it (removing it \
                     invalidates every URL already issued)",
                    path.display()
                )
            }),
            Err(err) if err.kind() == ErrorKind::NotFound => Self::create(data_dir, &path),
            Err(err) => Err(err).with_context(|| {
                format!(
                    "cannot read {}; not replacing it, since that would invalidate every URL \
                     already issued",
                    path.display()
                )
            }),
        }
    }

    fn create(data_dir: &Path, path: &Path) -> anyhow::Result<Self> {
        let creds = Self {
            access_key: format!("AK{}", uuid::Uuid::new_v4().simple()).to_uppercase()[..20]
                .to_string(),
            secret_key: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
        };
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating {}", data_dir.display()))?;
        let tmp = path.with_extension(format!("{}.tmp", uuid::Uuid::new_v4().simple()));
        let written = (|| -> std::io::Result<()> {
            std::fs::write(&tmp, serde_json::to_vec(&creds)?)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            }
            std::fs::File::open(&tmp)?.sync_all()?;
            // A hard link fails if another process created the file meanwhile: theirs stays.
            std::fs::hard_link(&tmp, path)
        })();
        let _ = std::fs::remove_file(&tmp);
        match written {
            Ok(()) => Ok(creds),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => Self::load_or_create(data_dir),
            Err(err) => Err(err).with_context(|| format!("writing {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = EmbeddedCredentials::load_or_create(dir.path()).unwrap();
        let again = EmbeddedCredentials::load_or_create(dir.path()).unwrap();
        assert_eq!(first.access_key, again.access_key);
        assert_eq!(first.secret_key, again.secret_key);
        assert_eq!(first.access_key.len(), 20);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(EmbeddedCredentials::path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // No temp files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_unreadable_file_stops_start_up_and_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = EmbeddedCredentials::path(dir.path());
        // A read error other than "not found" (root ignores file modes, so use a directory:
        // reading it fails with EISDIR).
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        let err = EmbeddedCredentials::load_or_create(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read"), "{err:#}");
        assert!(
            path.join("keep").exists(),
            "the existing entry was replaced"
        );

        #[cfg(unix)]
        if !is_root() {
            use std::os::unix::fs::PermissionsExt as _;
            let other = tempfile::tempdir().unwrap();
            let creds = EmbeddedCredentials::load_or_create(other.path()).unwrap();
            let file = EmbeddedCredentials::path(other.path());
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
            assert!(EmbeddedCredentials::load_or_create(other.path()).is_err());
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
            let kept = EmbeddedCredentials::load_or_create(other.path()).unwrap();
            assert_eq!(kept.secret_key, creds.secret_key);
        }
    }

    #[test]
    fn a_corrupt_file_stops_start_up_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = EmbeddedCredentials::path(dir.path());
        std::fs::write(&path, b"{not json").unwrap();
        assert!(EmbeddedCredentials::load_or_create(dir.path()).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"{not json");
    }

    #[cfg(unix)]
    fn is_root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|out| out.stdout.starts_with(b"0\n"))
            .unwrap_or(true)
    }
}
