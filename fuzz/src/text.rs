//! What the checks of the URL parsers share: the marker put into generated passwords, and
//! percent-encoding.

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

/// Every byte but the URL's unreserved characters as `%XX`.
pub fn encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
