use serde::{Deserialize, Serialize};

/// One of the two options. The stored values are `a` and `b`; labels come from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VoteOption {
    A,
    B,
}

impl VoteOption {
    pub const ALL: [VoteOption; 2] = [VoteOption::A, VoteOption::B];

    pub fn as_str(self) -> &'static str {
        match self {
            VoteOption::A => "a",
            VoteOption::B => "b",
        }
    }

    /// Exactly `a` or `b`.
    pub fn parse(value: &str) -> Option<VoteOption> {
        match value {
            "a" => Some(VoteOption::A),
            "b" => Some(VoteOption::B),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::VoteOption;

    #[test]
    fn parses_exactly_its_own_names() {
        for option in VoteOption::ALL {
            assert_eq!(VoteOption::parse(option.as_str()), Some(option));
        }
        for other in ["", "A", "c", " a", "a ", "ab"] {
            assert_eq!(VoteOption::parse(other), None, "{other:?}");
        }
    }
}
