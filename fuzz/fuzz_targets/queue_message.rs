//! The queue message: the first byte picks raw bytes (even) or a message written from parts
//! (odd).
#![no_main]

use libfuzzer_sys::{
    arbitrary::{Result, Unstructured},
    fuzz_target,
};
use voting_app_fuzz::queue_message::{MessageParts, check_any_message, ts_value};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        check_any_message(rest);
    } else if let Ok(parts) = parts(&mut Unstructured::new(rest)) {
        parts.check();
    }
});

fn parts(u: &mut Unstructured) -> Result<MessageParts> {
    let voter_id = u.arbitrary()?;
    let vote = match u.int_in_range(0..=3)? {
        0 => "a".to_owned(),
        1 => "b".to_owned(),
        _ => u.arbitrary()?,
    };
    let ts = if u.arbitrary()? {
        let fraction = if u.ratio(1, 4)? {
            Some(u.arbitrary()?)
        } else {
            None
        };
        Some(ts_value(u.arbitrary()?, fraction))
    } else {
        None
    };
    let extra = (0..u.int_in_range(0..=3)?)
        .map(|_| {
            let name: String = u.arbitrary()?;
            let value: String = u.arbitrary()?;
            Ok((name, value.into()))
        })
        .collect::<Result<_>>()?;
    Ok(MessageParts {
        voter_id,
        vote,
        ts,
        extra,
        pretty: u.arbitrary()?,
    })
}
