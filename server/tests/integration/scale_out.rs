//! Replicas of the long-lived server side by side: 2-3 real `server` processes in AWS mode
//! against one moto (DynamoDB + S3), each on its own port with nothing in front. What they share
//! (the tables, the bucket) must keep every property a single process has: racing writers on
//! different replicas agree and never revive a deleted asset, sessions and API keys work on
//! every replica (a revoked key within the documented cache bound), and the reconciler running
//! on every replica repairs each stale asset exactly once.

mod cluster;
mod races;
mod reconciler;
mod sessions;
