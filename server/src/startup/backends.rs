//! Opening what the server runs on: the metadata stores, object storage, the embedded
//! endpoint's credentials; the first run's admin; `init-aws`.

use std::sync::Arc;

use tracing::{info, warn};

use super::EmbeddedUrls;
use crate::config::{Config, ObjectsKind, StoreKind};
use crate::embedded_s3::EmbeddedCredentials;
use crate::objects::Objects;
use crate::provision::{
    Capacity, abort_incomplete_uploads, create_auth_table, create_bucket_with_cors, create_table,
};
use crate::service::auth::Auth;
use crate::store::AssetStore;
use crate::store::auth::AuthStore;
use crate::store::dynamo::DynamoStore;
use crate::store::local::LocalStore;
use crate::store::metered::{MeteredAssets, MeteredAuth};

/// What the server runs on: the stores, object storage, and the embedded endpoint's
/// credentials when objects are embedded (read once, used by both sides).
pub(super) struct Backends {
    pub(super) assets: Arc<dyn AssetStore>,
    pub(super) auth: Arc<dyn AuthStore>,
    pub(super) objects: Objects,
    pub(super) credentials: Option<EmbeddedCredentials>,
}

/// The metadata stores the configuration asks for: asset records, and users, keys, sessions.
pub(super) async fn open_stores(
    config: &Config,
) -> anyhow::Result<(Arc<dyn AssetStore>, Arc<dyn AuthStore>)> {
    let (assets, auth): (Arc<dyn AssetStore>, Arc<dyn AuthStore>) = match config.store {
        StoreKind::Dynamodb => {
            let sdk = crate::aws::sdk_config(config.aws_region.as_deref()).await;
            let store = Arc::new(DynamoStore::new(
                crate::aws::dynamodb_client(&sdk, config.dynamodb_endpoint.as_deref()),
                &config.dynamodb_table,
                &config.dynamodb_auth_table(),
                config.created_ttl(),
            ));
            (store.clone(), store)
        }
        StoreKind::Local => {
            let store = Arc::new(LocalStore::open(&config.data_dir)?);
            (store.clone(), store)
        }
    };
    // Every store call is timed for metrics, whichever store it is.
    Ok((Arc::new(MeteredAssets(assets)), Arc::new(MeteredAuth(auth))))
}

pub(super) async fn open_backends(
    config: &Config,
    s3_urls: &EmbeddedUrls,
) -> anyhow::Result<Backends> {
    let (assets, auth) = open_stores(config).await?;
    let (objects, credentials) = match config.objects {
        ObjectsKind::S3 => {
            let sdk = crate::aws::sdk_config(config.aws_region.as_deref()).await;
            let objects = Objects::aws(
                &sdk,
                &config.bucket,
                config.s3_endpoint.as_deref(),
                config.s3_force_path_style,
            );
            (objects, None)
        }
        ObjectsKind::Embedded => {
            let credentials = EmbeddedCredentials::load_or_create(&config.data_dir)?;
            let objects = Objects::embedded(
                &s3_urls.public,
                &s3_urls.internal,
                &config.bucket,
                &credentials.access_key,
                &credentials.secret_key,
            );
            (objects, Some(credentials))
        }
    };
    Ok(Backends {
        assets,
        auth,
        objects,
        credentials,
    })
}

/// The embedded default's first run: with no user yet, creates `admin` and shows its password
/// once, on standard output. Then assets from before owners existed go to the first admin.
pub(super) async fn first_run(
    config: &Config,
    auth: &Auth,
    assets: &dyn AssetStore,
    sign_in_url: &str,
) -> anyhow::Result<()> {
    if config.store == StoreKind::Local
        && let Some(password) = auth.create_first_admin().await?
    {
        println!(
            "\nFirst run: created the user \"admin\" with the password\n\n    {password}\n\n\
             Sign in at {sign_in_url} (it is shown only now; change it with `server users passwd admin`).\n"
        );
    }
    match auth.first_admin().await? {
        Some(admin) => {
            let adopted = assets.adopt_unowned(&admin).await?;
            if adopted > 0 {
                info!(owner = %admin, assets = adopted, "assets stored before owners existed now belong to the first admin");
            }
        }
        None => warn!(
            "no admin exists: create one with `server users add NAME --admin` (password on standard input)"
        ),
    }
    Ok(())
}

/// `server init-aws`: creates the table and the bucket (with CORS and the rule that aborts
/// incomplete multipart uploads) the AWS mode needs.
pub(super) async fn init_aws(
    config: &Config,
    capacity: Capacity,
    abort_incomplete_after_days: i32,
) -> anyhow::Result<()> {
    let sdk = crate::aws::sdk_config(config.aws_region.as_deref()).await;
    let dynamodb = crate::aws::dynamodb_client(&sdk, config.dynamodb_endpoint.as_deref());
    create_table(&dynamodb, &config.dynamodb_table, capacity).await?;
    create_auth_table(&dynamodb, &config.dynamodb_auth_table(), capacity).await?;
    let s3 = crate::aws::s3_client(
        &sdk,
        config.s3_endpoint.as_deref(),
        config.s3_force_path_style,
    );
    create_bucket_with_cors(&s3, &config.bucket, &config.cors_origins).await?;
    abort_incomplete_uploads(&s3, &config.bucket, abort_incomplete_after_days).await?;
    info!(table = %config.dynamodb_table, bucket = %config.bucket, "AWS resources ready");
    Ok(())
}
