//! Authorization: the permission catalogue and built-in roles, and the decision every service
//! asks ([`Rights`], [`Deps::authorize`](crate::Deps)).

mod permission;
mod rights;

pub use permission::*;
pub use rights::*;

#[cfg(test)]
mod tests;
