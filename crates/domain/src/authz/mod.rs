//! Authorization: the permission catalogue and built-in roles, the decision every service
//! asks ([`Rights`], [`Deps::authorize`](crate::Deps)), and the decision API that lets
//! products ask the same decision ([`AuthorizationService`]).

mod cache;
mod check;
mod permission;
mod rights;

pub use cache::{CacheStats, DEFAULT_DECISION_CACHE_CAPACITY, DecisionCache};
pub use check::*;
pub use permission::*;
pub use rights::*;

#[cfg(test)]
mod tests;
