//! The marker put into generated passwords, and the search for it.

use crate::text::encoded;

/// Put into every generated password: log forms and errors are searched for it. No other
/// generated part may hold it, so finding it anywhere means a password leaked.
pub const MARKER: &str = "\u{1F511}";

/// Fails when `shown` (a log form or an error message) holds the marker, as it is or
/// percent-encoded.
pub fn assert_no_password(shown: &str, url: &str) {
    assert!(
        !shown.contains(MARKER) && !shown.to_uppercase().contains(&encoded(MARKER)),
        "the password of {url:?} shows in {shown:?}"
    );
}
