//! Percent-encoding for the URLs that logs show (`DATABASE_URL`, `REDIS_URL`).

/// `bytes` with every byte but the URL's unreserved characters and those of `keep` as `%XX`.
pub(crate) fn encoded(bytes: &[u8], keep: &[u8]) -> String {
    let mut encoded = String::with_capacity(bytes.len());
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || keep.contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
