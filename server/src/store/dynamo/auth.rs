//! Users, API keys and sessions in the auth table. One hash key `pk`: `user#<name>`,
//! `key#<key_id>`, `session#<id_hash>`. Users and keys also carry `kind` and `sort`, the keys of
//! the `by_kind` index: users sorted by name, keys by `<user>#<created micros>#<key_id>`, so
//! one user's keys are a `begins_with` query read backwards (newest first). Sessions are not in
//! the index; DynamoDB's TTL (`expires_at`, epoch seconds) deletes them after their end, and
//! reads hide them from that end on. Reads by key are strongly consistent.

use std::collections::HashMap;

use app::model::ApiKeyInfo;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::{AUTH_INDEX, DynamoStore, EXPIRES, conditional, n, s, unavailable};
use crate::store::StoreError;
use crate::store::auth::{ApiKeyRecord, AuthStore, SessionRecord, UserRecord};

type Item = HashMap<String, AttributeValue>;

fn user_pk(name: &str) -> AttributeValue {
    s(format!("user#{name}"))
}

fn key_pk(key_id: &str) -> AttributeValue {
    s(format!("key#{key_id}"))
}

fn session_pk(id_hash: &str) -> AttributeValue {
    s(format!("session#{id_hash}"))
}

/// The prefix of one user's keys in the index; names never contain `#`.
fn key_prefix(user: &str) -> String {
    format!("{user}#")
}

fn malformed(what: &str) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("malformed auth item: {what}"))
}

fn text(item: &Item, name: &str) -> Result<String, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .ok_or_else(|| malformed(name))
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn optional_time(item: &Item, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    number(item, name)
        .map(|us| DateTime::from_timestamp_micros(us).ok_or_else(|| malformed(name)))
        .transpose()
}

fn time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    optional_time(item, name)?.ok_or_else(|| malformed(name))
}

fn user_item(user: &UserRecord) -> Item {
    HashMap::from([
        ("pk".to_string(), user_pk(&user.name)),
        ("kind".to_string(), s("user")),
        ("sort".to_string(), s(&user.name)),
        ("name".to_string(), s(&user.name)),
        ("password_hash".to_string(), s(&user.password_hash)),
        ("admin".to_string(), AttributeValue::Bool(user.admin)),
        (
            "created_us".to_string(),
            n(user.created_at.timestamp_micros()),
        ),
        ("generation".to_string(), n(user.generation)),
    ])
}

fn user_from(item: &Item) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        name: text(item, "name")?,
        password_hash: text(item, "password_hash")?,
        admin: *item
            .get("admin")
            .and_then(|v| v.as_bool().ok())
            .ok_or_else(|| malformed("admin"))?,
        created_at: time(item, "created_us")?,
        generation: number(item, "generation").ok_or_else(|| malformed("generation"))? as u64,
    })
}

fn key_item(key: &ApiKeyRecord) -> Item {
    let info = &key.info;
    let created = info.created_at.timestamp_micros();
    let mut item = HashMap::from([
        ("pk".to_string(), key_pk(&info.key_id)),
        ("kind".to_string(), s("key")),
        (
            "sort".to_string(),
            s(format!(
                "{}{created:020}#{}",
                key_prefix(&info.user),
                info.key_id
            )),
        ),
        ("key_id".to_string(), s(&info.key_id)),
        ("user".to_string(), s(&info.user)),
        ("label".to_string(), s(&info.label)),
        ("created_us".to_string(), n(created)),
        ("secret_hash".to_string(), s(&key.secret_hash)),
    ]);
    if let Some(at) = info.last_used_at {
        item.insert("last_used_us".into(), n(at.timestamp_micros()));
    }
    if let Some(at) = info.expires_at {
        item.insert("expires_us".into(), n(at.timestamp_micros()));
    }
    item
}

fn key_from(item: &Item) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        info: ApiKeyInfo {
            key_id: text(item, "key_id")?,
            user: text(item, "user")?,
            label: text(item, "label")?,
            created_at: time(item, "created_us")?,
            last_used_at: optional_time(item, "last_used_us")?,
            expires_at: optional_time(item, "expires_us")?,
        },
        secret_hash: text(item, "secret_hash")?,
    })
}

fn session_item(session: &SessionRecord) -> Item {
    HashMap::from([
        ("pk".to_string(), session_pk(&session.id_hash)),
        ("id_hash".to_string(), s(&session.id_hash)),
        ("user".to_string(), s(&session.user)),
        ("generation".to_string(), n(session.generation)),
        (
            "created_us".to_string(),
            n(session.created_at.timestamp_micros()),
        ),
        (
            "last_seen_us".to_string(),
            n(session.last_seen_at.timestamp_micros()),
        ),
        (
            "expires_us".to_string(),
            n(session.expires_at.timestamp_micros()),
        ),
        // DynamoDB's TTL, in whole seconds, rounded up: it never removes a live session.
        (EXPIRES.to_string(), n(session.expires_at.timestamp() + 1)),
    ])
}

fn session_from(item: &Item) -> Result<SessionRecord, StoreError> {
    Ok(SessionRecord {
        id_hash: text(item, "id_hash")?,
        user: text(item, "user")?,
        generation: number(item, "generation").ok_or_else(|| malformed("generation"))? as u64,
        created_at: time(item, "created_us")?,
        last_seen_at: time(item, "last_seen_us")?,
        expires_at: time(item, "expires_us")?,
    })
}

impl DynamoStore {
    async fn get_auth(&self, pk: AttributeValue) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.auth_table)
            .key("pk", pk)
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }

    /// Puts a new item; `AlreadyExists` if its `pk` is taken.
    async fn put_new(&self, item: Item) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.auth_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        conditional(result, StoreError::AlreadyExists)
    }

    /// Deletes an item; true if it existed.
    async fn delete_auth(&self, pk: AttributeValue) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.auth_table)
            .key("pk", pk)
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.attributes.is_some_and(|old| !old.is_empty()))
    }

    /// Sets one number attribute, only while the item exists (`Conflict` otherwise).
    async fn touch(
        &self,
        pk: AttributeValue,
        attribute: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.auth_table)
            .key("pk", pk)
            .update_expression("SET #at = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#at", attribute)
            .expression_attribute_values(":at", n(at.timestamp_micros()))
            .send()
            .await;
        conditional(result, StoreError::Conflict)
    }

    /// Every item of `kind` in the index, in `sort` order (or reversed), optionally only those
    /// whose `sort` begins with `prefix`.
    async fn query_kind(
        &self,
        kind: &str,
        prefix: Option<String>,
        forward: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut key_condition = "#kind = :kind".to_string();
        let mut values = HashMap::from([(":kind".to_string(), s(kind))]);
        let mut names = HashMap::from([("#kind".to_string(), "kind".to_string())]);
        if let Some(prefix) = prefix {
            key_condition.push_str(" AND begins_with(#sort, :prefix)");
            values.insert(":prefix".into(), s(prefix));
            names.insert("#sort".into(), "sort".into());
        }
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.auth_table)
                .index_name(AUTH_INDEX)
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(forward)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(unavailable)?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) => start_key = Some(key),
                None => break,
            }
        }
        Ok(items)
    }
}

#[async_trait]
impl AuthStore for DynamoStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        self.put_new(user_item(user)).await
    }

    async fn get_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        self.get_auth(user_pk(name))
            .await?
            .map(|item| user_from(&item))
            .transpose()
    }

    async fn update_user(&self, current: &UserRecord, next: &UserRecord) -> Result<(), StoreError> {
        let mut next = next.clone();
        next.name = current.name.clone();
        let result = self
            .client
            .put_item()
            .table_name(&self.auth_table)
            .set_item(Some(user_item(&next)))
            .condition_expression("#generation = :expected")
            .expression_attribute_names("#generation", "generation")
            .expression_attribute_values(":expected", n(current.generation))
            .send()
            .await;
        conditional(result, StoreError::Conflict)
    }

    async fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        // Keys first, then the user: a failure part way leaves a user to remove again, never
        // keys without a user. The index lags writes slightly, so a key made a moment ago may
        // survive; it authenticates nobody, as the service checks the key's user exists.
        for key in self.list_keys(Some(name)).await? {
            self.delete_auth(key_pk(&key.info.key_id)).await?;
        }
        self.delete_auth(user_pk(name)).await
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.query_kind("user", None, true)
            .await?
            .iter()
            .map(user_from)
            .collect()
    }

    async fn insert_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        self.put_new(key_item(key)).await
    }

    async fn get_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get_auth(key_pk(key_id))
            .await?
            .map(|item| key_from(&item))
            .transpose()
    }

    async fn list_keys(&self, user: Option<&str>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let items = self.query_kind("key", user.map(key_prefix), false).await?;
        let mut keys = items.iter().map(key_from).collect::<Result<Vec<_>, _>>()?;
        // One user's come newest first from the index; everyone's are sorted by user there.
        keys.sort_by(|a, b| {
            (b.info.created_at, &b.info.key_id).cmp(&(a.info.created_at, &a.info.key_id))
        });
        Ok(keys)
    }

    async fn remove_key(&self, key_id: &str) -> Result<bool, StoreError> {
        self.delete_auth(key_pk(key_id)).await
    }

    async fn touch_key(&self, key_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.touch(key_pk(key_id), "last_used_us", at).await
    }

    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError> {
        self.put_new(session_item(session)).await
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let Some(item) = self.get_auth(session_pk(id_hash)).await? else {
            return Ok(None);
        };
        let session = session_from(&item)?;
        // DynamoDB deletes expired items only eventually (it may take days).
        Ok((session.expires_at > Utc::now()).then_some(session))
    }

    async fn touch_session(&self, id_hash: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.touch(session_pk(id_hash), "last_seen_us", at).await
    }

    async fn remove_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.delete_auth(session_pk(id_hash)).await.map(|_| ())
    }
}
