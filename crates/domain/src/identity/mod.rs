//! Who is who: users, memberships and API tokens, the principal a request acts as, how a
//! token authenticates, whom a caller may see, and the services and ports of all of them.

mod authentication;
mod errors;
mod member;
mod member_service;
mod ports;
mod principal;
mod token;
mod token_secret;
mod token_service;
mod user;
mod user_service;
mod visibility;

pub use authentication::*;
pub use errors::*;
pub use member::*;
pub use member_service::*;
pub use ports::*;
pub use principal::*;
pub use token::*;
pub use token_secret::*;
pub use token_service::*;
pub use user::*;
pub use user_service::*;
