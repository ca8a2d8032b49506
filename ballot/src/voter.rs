/// Bytes of randomness in a fresh voter id: 128 bits, unguessable.
const VOTER_ID_BYTES: usize = 16;

/// The longest voter id the vote service accepts from a cookie (SPEC section 3).
const MAX_COOKIE_ID_CHARS: usize = 64;

/// A voter id that is safe to store and echo: 1 to 64 characters of `[0-9a-zA-Z_-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterId(String);

impl VoterId {
    /// Accepts an incoming id only if it has the allowed shape.
    pub fn parse(value: &str) -> Option<VoterId> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        (1..=MAX_COOKIE_ID_CHARS)
            .contains(&value.len())
            .then_some(value)
            .filter(|value| value.chars().all(valid_char))
            .map(|value| VoterId(value.to_owned()))
    }

    /// 128 random bits from the operating system's CSPRNG, as lowercase hex.
    pub fn generate() -> VoterId {
        let mut bytes = [0u8; VOTER_ID_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        VoterId(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::VoterId;

    #[test]
    fn accepts_only_the_allowed_shape() {
        assert!(VoterId::parse("abc-DEF_123").is_some());
        assert!(VoterId::parse(&"x".repeat(64)).is_some());
        assert!(VoterId::parse(&"x".repeat(65)).is_none());
        assert!(VoterId::parse("").is_none());
        assert!(VoterId::parse("a b").is_none());
        assert!(VoterId::parse("<script>").is_none());
        assert!(VoterId::parse("é").is_none());
    }

    #[test]
    fn generated_ids_are_128_bit_lowercase_hex_and_distinct() {
        let first = VoterId::generate();
        assert_eq!(first.as_str().len(), 32);
        assert!(
            first
                .as_str()
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        );
        assert_ne!(first, VoterId::generate());
        assert!(VoterId::parse(first.as_str()).is_some());
    }
}
