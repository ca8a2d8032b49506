//! The vote bodies: the first byte picks a raw form (0 mod 3), a raw JSON body (1 mod 3), or
//! both written from parts (2 mod 3).
#![no_main]

use libfuzzer_sys::{
    arbitrary::{Result, Unstructured},
    fuzz_target,
};
use voting_app_fuzz::vote_body::{BodyParts, check_any_form, check_any_json};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => check_any_form(rest),
        1 => check_any_json(rest),
        _ => {
            if let Ok(parts) = parts(&mut Unstructured::new(rest)) {
                parts.check();
            }
        }
    }
});

fn parts(u: &mut Unstructured) -> Result<BodyParts> {
    let votes = (0..u.int_in_range(0..=2)?)
        .map(|_| {
            Ok(match u.int_in_range(0..=3)? {
                0 => "a".to_owned(),
                1 => "b".to_owned(),
                _ => u.arbitrary()?,
            })
        })
        .collect::<Result<_>>()?;
    Ok(BodyParts {
        votes,
        others: u.arbitrary()?,
        at: u.arbitrary()?,
    })
}
