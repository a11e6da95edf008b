//! URI templates of resource templates: the one parser and linear-time matcher pier and
//! its SDK share.

pub use pier_uri_template::UriTemplate;
