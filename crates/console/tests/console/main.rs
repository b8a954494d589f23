//! The console's tests: over HTTP (sessions, CSRF, headers, the API's rules) and in a real
//! headless Chromium (the person's journeys), plus the large-data timing of search pages.

mod browser;
mod helpers;
mod http;
