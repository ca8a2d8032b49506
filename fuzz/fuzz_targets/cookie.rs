//! The `Cookie` headers: the first byte picks raw headers (even; split at newlines, which no
//! header value holds) or headers written from parts (odd).
#![no_main]

use libfuzzer_sys::{
    arbitrary::{Result, Unstructured},
    fuzz_target,
};
use voting_app_fuzz::cookie::{CookieParts, check_any_headers};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let headers: Vec<&[u8]> = rest.split(|&b| b == b'\n').collect();
        check_any_headers(&headers);
    } else if let Ok(parts) = parts(&mut Unstructured::new(rest)) {
        parts.check();
    }
});

fn parts(u: &mut Unstructured) -> Result<CookieParts> {
    let id = |u: &mut Unstructured| -> Result<Option<String>> {
        Ok(match u.int_in_range(0..=3)? {
            0 => None,
            // Mostly of the allowed characters, so that the fuzzer finds the edges of the
            // shape rather than only refusals.
            1 | 2 => {
                let len = u.int_in_range(0..=70)?;
                let allowed = b"0123456789abcdefXYZ_-";
                Some(
                    (0..len)
                        .map(|_| Ok(char::from(*u.choose(allowed)?)))
                        .collect::<Result<String>>()?,
                )
            }
            _ => Some(u.arbitrary()?),
        })
    };
    Ok(CookieParts {
        before: u.arbitrary()?,
        voter_id: id(u)?,
        vote: u.arbitrary()?,
        after: u.arbitrary()?,
        quoted: u.arbitrary()?,
        splits: u.arbitrary()?,
    })
}
