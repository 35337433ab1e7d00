//! The readable alternative to cron (`when:`), a small grammar turned into a cron pattern
//! that the cron matcher then evaluates:
//!
//! ```text
//! (first|second|third|fourth|last) WEEKDAY of the month at HH:MM   e.g. 0 14 * * 2#1
//! every WEEKDAY at HH:MM                                          e.g. 0 10 * * 1
//! day N of the month at HH:MM        (N = 1..28, every month has it)   e.g. 0 11 15 * *
//! ```
//!
//! Words are case-insensitive and separated by spaces; weekdays are written out
//! (`monday`) or abbreviated (`mon`). Anything else is an error that shows the forms.

/// The forms, as shown in every error.
pub const FORMS: &str = "`first|second|third|fourth|last WEEKDAY of the month at HH:MM`, `every WEEKDAY at HH:MM` or `day N of the month at HH:MM`";

const WEEKDAYS: [(&str, &str, u8); 7] = [
    ("sunday", "sun", 0),
    ("monday", "mon", 1),
    ("tuesday", "tue", 2),
    ("wednesday", "wed", 3),
    ("thursday", "thu", 4),
    ("friday", "fri", 5),
    ("saturday", "sat", 6),
];

/// The cron pattern (`MIN HOUR DOM MON DOW`) that `text` means.
pub fn to_cron(text: &str) -> Result<String, String> {
    let lower = text.trim().to_ascii_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    let msg = |why: &str| format!("{why} in \"{}\"; write {FORMS}", text.trim());
    let fail = |why: &str| Err(msg(why));
    match words.as_slice() {
        ["day", n, "of", "the", "month", "at", time] => {
            let n: u8 = match n.parse() {
                Ok(n) if (1..=28).contains(&n) => n,
                _ => return fail(&format!("day `{n}` is not 1 to 28 (every month has those days)")),
            };
            let (h, m) = hh_mm(time).map_err(|e| msg(&e))?;
            Ok(format!("{m} {h} {n} * *"))
        }
        [nth, day, "of", "the", "month", "at", time] => {
            let dow = match weekday(day) {
                Some(d) => d,
                None => return fail(&format!("`{day}` is not a weekday")),
            };
            let (h, m) = hh_mm(time).map_err(|e| msg(&e))?;
            let which = match *nth {
                "first" | "1st" => "#1",
                "second" | "2nd" => "#2",
                "third" | "3rd" => "#3",
                "fourth" | "4th" => "#4",
                "last" => "L",
                other => return fail(&format!("`{other}` is not first, second, third, fourth or last")),
            };
            Ok(format!("{m} {h} * * {dow}{which}"))
        }
        ["every", day, "at", time] => {
            let dow = match weekday(day) {
                Some(d) => d,
                None => return fail(&format!("`{day}` is not a weekday")),
            };
            let (h, m) = hh_mm(time).map_err(|e| msg(&e))?;
            Ok(format!("{m} {h} * * {dow}"))
        }
        _ => fail("not a schedule firedrill reads"),
    }
}

fn weekday(w: &str) -> Option<u8> {
    let w = w.trim_end_matches('s'); // "every tuesdays"
    WEEKDAYS.iter().find(|(long, short, _)| w == long.trim_end_matches('s') || w == *short).map(|(_, _, n)| *n)
}

fn hh_mm(t: &str) -> Result<(u8, u8), String> {
    let bad = || format!("`{t}` is not a time like 14:00 (24-hour HH:MM)");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let h: u8 = h.parse().map_err(|_| bad())?;
    let m: u8 = m.parse().map_err(|_| bad())?;
    if h > 23 || m > 59 || t.len() > 5 { Err(bad()) } else { Ok((h, m)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_readable_form_is_the_cron_pattern_it_means() {
        assert_eq!(to_cron("first tuesday of the month at 14:00").unwrap(), "0 14 * * 2#1");
        assert_eq!(to_cron("Last Friday of the month at 09:30").unwrap(), "30 9 * * 5L");
        assert_eq!(to_cron("third wed of the month at 7:05").unwrap(), "5 7 * * 3#3");
        assert_eq!(to_cron("every monday at 10:00").unwrap(), "0 10 * * 1");
        assert_eq!(to_cron("day 15 of the month at 11:00").unwrap(), "0 11 15 * *");
    }

    #[test]
    fn a_readable_form_that_is_wrong_says_what_and_shows_the_forms() {
        for (text, why) in [
            ("fifth monday of the month at 10:00", "`fifth` is not first"),
            ("first funday of the month at 10:00", "`funday` is not a weekday"),
            ("every monday at 25:00", "`25:00` is not a time"),
            ("day 31 of the month at 10:00", "day `31` is not 1 to 28"),
            ("monthly", "not a schedule firedrill reads"),
        ] {
            let e = to_cron(text).unwrap_err();
            assert!(e.contains(why) && e.contains(FORMS), "{text}: {e}");
        }
    }
}
