//! accountd's SQL store, written once and compiled once per database.
//!
//! Both databases accept the same statements (`$n` placeholders, `RETURNING`, `substr`,
//! `ON CONFLICT … DO UPDATE … WHERE`), and sqlx decodes the same row types from both, so the
//! store is ordinary Rust code in `store/`, one module per port area, written against a
//! `dialect` module: [`postgres`] and [`sqlite`] each compile it with their own `dialect`
//! (the sqlx database type, how a write transaction begins, the row-lock clause, the tree
//! lock, which error means an alias address is taken), and add how to connect and migrate.
//! docs/ARCHITECTURE.md says why this shape and not a store generic over `sqlx::Database`.

#[cfg(feature = "postgres")]
mod announce;
mod context;
mod json;
mod paging;
mod pool;
mod rows;
mod violations;

#[cfg(feature = "postgres")]
mod failover;
#[cfg(feature = "postgres")]
mod hosts;
#[cfg(feature = "postgres")]
mod listen;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub(crate) use context::Context;
pub(crate) use json::{changes_from_json, changes_to_json};
pub use pool::PoolConfig;
