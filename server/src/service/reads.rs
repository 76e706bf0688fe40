//! Reading assets as a principal: listing pages and download links; where they are stored.

use app::model::{
    Action, AssetId, AssetPage, DEFAULT_PAGE_SIZE, DownloadLink, InvalidInput, ListQuery,
    MAX_PAGE_SIZE, Principal, UrlLifetime, validate_user_name,
};

use super::{Service, ServiceError, conflict};
use crate::objects::attachment_disposition;
use crate::store::{Cursor, PageRequest, StateFilter};

impl Service {
    /// The bucket assets are stored in (Companion's replies name it).
    pub fn bucket(&self) -> &str {
        self.inner.objects.bucket()
    }

    /// A page of the assets `who` may see: their own; an admin's, everyone's or `?owner=`'s.
    pub async fn list(&self, who: &Principal, query: ListQuery) -> Result<AssetPage, ServiceError> {
        if let Some(owner) = &query.owner {
            // Not a user name, not a user: say so rather than list nothing.
            validate_user_name(owner)?;
        }
        let owner = match (&query.owner, who.admin) {
            (None, true) => None,
            (Some(owner), true) => Some(owner.clone()),
            (Some(owner), false) if *owner != who.user => {
                return Err(ServiceError::Forbidden(
                    "only admins may list another user's assets",
                ));
            }
            (_, false) => Some(who.user.clone()),
        };
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(InvalidInput::new(format!("limit must be 1..={MAX_PAGE_SIZE}")).into());
        }
        let search = query.search()?;
        let after = query
            .cursor
            .as_deref()
            .map(|raw| Cursor::decode(raw, &search))
            .transpose()?;
        let filter = match (query.state, query.include_deleted) {
            (Some(state), _) => StateFilter::Only(state),
            (None, true) => StateFilter::All,
            (None, false) => StateFilter::Live,
        };
        let (items, next) = self
            .store()
            .list(&PageRequest {
                owner,
                limit,
                after,
                filter,
                search,
            })
            .await?;
        Ok(AssetPage {
            items,
            next_cursor: next.map(|c| c.encode()),
        })
    }

    /// A presigned download URL, only for assets whose state allows it. The lifetime defaults
    /// to the original example's 60 seconds.
    pub async fn download_link(
        &self,
        who: &Principal,
        id: AssetId,
        lifetime: Option<UrlLifetime>,
    ) -> Result<DownloadLink, ServiceError> {
        let asset = self.get_for(who, id).await?;
        asset
            .state
            .apply(Action::Download)
            .map_err(|why| conflict(&asset, why))?;
        let filename = asset.filename.clone().unwrap_or_else(|| id.to_string());
        let content_type = asset
            .content_type
            .as_deref()
            .unwrap_or("application/octet-stream");
        let presigned = self
            .inner
            .objects
            .presign_get(
                id,
                &attachment_disposition(&filename),
                content_type,
                lifetime.unwrap_or(UrlLifetime::DEFAULT_DOWNLOAD),
            )
            .await
            .map_err(ServiceError::Unavailable)?;
        crate::meters::download_url_issued();
        Ok(DownloadLink {
            download_url: presigned.url,
            expires_at: presigned.expires_at,
        })
    }
}
