use std::path::Path;

use jiff::Timestamp;

use super::*;

/// A calendar in `dir` with the repository's local scenario next to it.
fn calendar(dir: &Path, body: &str) -> Result<Loaded, Vec<String>> {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/local-web-outage.yaml");
    let text = std::fs::read_to_string(shipped).unwrap();
    let pb = Path::new(env!("CARGO_MANIFEST_DIR")).join("playbooks/local-web-outage.md");
    std::fs::write(dir.join("web.yaml"), text.replace("../playbooks/local-web-outage.md", "pb.md")).unwrap();
    std::fs::copy(pb, dir.join("pb.md")).unwrap();
    let file = dir.join("calendar.yaml");
    std::fs::write(&file, body).unwrap();
    load(&file).map_err(|i| i.0.iter().map(ToString::to_string).collect())
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn starts(os: &[Occurrence]) -> Vec<String> {
    os.iter().map(|o| o.start.strftime("%Y-%m-%dT%H:%M%:z").to_string()).collect()
}

#[test]
fn a_cron_occurrence_on_the_spring_forward_day_starts_after_the_jump() {
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar(
        dir.path(),
        "version: 1\ntimezone: Europe/Paris\ngamedays:\n  - scenario: web.yaml\n    cron: \"30 2 * * 0\"\n",
    )
    .unwrap();
    // Sundays around the change of 2026-03-29 (02:00 CET -> 03:00 CEST).
    let next = cal.next(ts("2026-03-20T00:00:00Z"), 3, None);
    assert_eq!(starts(&next), ["2026-03-22T02:30+01:00", "2026-03-29T03:30+02:00", "2026-04-05T02:30+02:00"]);
    assert_eq!(next[1].key, "web@2026-03-29T02:30", "the occurrence keeps its scheduled name");
    let why = next[1].dst.as_deref().unwrap();
    assert!(why.contains("02:30 does not exist on 2026-03-29") && why.contains("60m later"), "{why}");
    assert!(next[0].dst.is_none() && next[2].dst.is_none());
    // And it is due from 03:30 CEST (01:30Z), not before.
    assert!(cal.due(ts("2026-03-29T01:29:00Z"), None).is_empty());
    assert_eq!(cal.due(ts("2026-03-29T01:30:00Z"), None).len(), 1);
}

#[test]
fn a_repeated_hour_on_the_fall_back_day_runs_once_at_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar(
        dir.path(),
        "version: 1\ntimezone: Europe/Paris\ngamedays:\n  - scenario: web.yaml\n    when: last sunday of the month at 02:30\n",
    )
    .unwrap();
    let next = cal.next(ts("2026-09-01T00:00:00Z"), 3, None);
    assert_eq!(starts(&next), ["2026-09-27T02:30+02:00", "2026-10-25T02:30+02:00", "2026-11-29T02:30+01:00"]);
    assert!(next[1].dst.as_deref().unwrap().contains("happens twice"), "{:?}", next[1].dst);
    // Due from the first 02:30 (CEST, 00:30Z); at the second 02:30 (CET, 01:30Z) no
    // second occurrence comes due (and the first's hour of catch-up has ended).
    let due = cal.due(ts("2026-10-25T00:45:00Z"), None);
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].key, "web@2026-10-25T02:30");
    assert!(cal.due(ts("2026-10-25T01:30:00Z"), None).is_empty());
    assert!(cal.due(ts("2026-10-25T01:45:00Z"), None).is_empty());
}

#[test]
fn the_readable_form_and_cron_agree_across_the_march_change() {
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar(
        dir.path(),
        "version: 1\ntimezone: Europe/Paris\ngamedays:\n  - scenario: web.yaml\n    id: a\n    cron: \"0 14 * * 2#1\"\n  - scenario: web.yaml\n    id: b\n    when: first tuesday of the month at 14:00\n",
    )
    .unwrap();
    let a = cal.next(ts("2026-02-15T00:00:00Z"), 2, Some("a"));
    let b = cal.next(ts("2026-02-15T00:00:00Z"), 2, Some("b"));
    assert_eq!(starts(&a), ["2026-03-03T14:00+01:00", "2026-04-07T14:00+02:00"]);
    assert_eq!(starts(&a), starts(&b));
    assert_eq!(a[1].start.timestamp(), ts("2026-04-07T12:00:00Z"), "14:00 CEST is 12:00 UTC");
}

#[test]
fn a_freeze_skips_the_occurrences_inside_it_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar(
        dir.path(),
        "version: 1\ntimezone: Europe/Paris\ngamedays:\n  - scenario: web.yaml\n    cron: \"0 10 * * 1\"\nfreeze:\n  - { from: 2026-12-21, to: 2027-01-04, reason: year-end change freeze }\n",
    )
    .unwrap();
    let next = cal.next(ts("2026-12-14T00:00:00Z"), 5, None);
    let frozen: Vec<bool> = next.iter().map(|o| o.freeze.is_some()).collect();
    // Mondays 14 and 21 and 28 Dec, 4 and 11 Jan: the last day of the freeze is included.
    assert_eq!(frozen, [false, true, true, true, false]);
    assert_eq!(next[1].freeze.as_deref(), Some("year-end change freeze"));
}

#[test]
fn a_window_start_is_seeded_by_the_occurrence_and_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar(
        dir.path(),
        "version: 1\ntimezone: UTC\ngamedays:\n  - scenario: web.yaml\n    cron: \"0 10 1 * *\"\n    window: 2h\n",
    )
    .unwrap();
    let next = cal.next(ts("2026-01-01T00:00:00Z"), 3, None);
    for o in &next {
        assert_eq!(o.seed, seed("web", o.scheduled));
        assert_eq!(o.offset_minutes, o.seed % 120);
        let nominal = o.scheduled.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
        assert_eq!(o.start.timestamp().duration_since(nominal).as_mins() as u64, o.offset_minutes);
        // `due` sees the same start as `next`.
        let due = cal.due(o.start.timestamp(), None);
        assert_eq!(
            due.iter().map(|d| (&d.key, d.start.timestamp(), d.seed)).collect::<Vec<_>>(),
            [(&o.key, o.start.timestamp(), o.seed)]
        );
        let before = o.start.timestamp().checked_sub(jiff::SignedDuration::from_secs(1)).unwrap();
        assert!(cal.due(before, None).is_empty());
    }
    // Fixed by the occurrence: the same calendar loaded again gives the same starts.
    let again = calendar(dir.path(), &std::fs::read_to_string(dir.path().join("calendar.yaml")).unwrap()).unwrap();
    assert_eq!(starts(&next), starts(&again.next(ts("2026-01-01T00:00:00Z"), 3, None)));
    let offsets: Vec<u64> = next.iter().map(|o| o.offset_minutes).collect();
    assert!(offsets.iter().any(|m| *m != offsets[0]), "months differ: {offsets:?}");
}

#[test]
fn an_occurrence_is_due_until_its_catch_up_ends() {
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar(
        dir.path(),
        "version: 1\ntimezone: UTC\ncatch_up: 30m\ngamedays:\n  - scenario: web.yaml\n    cron: \"0 10 1 * *\"\n",
    )
    .unwrap();
    assert_eq!(cal.due(ts("2026-05-01T10:29:59Z"), None).len(), 1);
    assert!(cal.due(ts("2026-05-01T10:30:00Z"), None).is_empty());
}

#[test]
fn calendar_mistakes_are_reported_with_file_line_column_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let errors = calendar(
        dir.path(),
        "version: 1\ntimezone: Europe/Pariss\ngamedays:\n  - scenario: web.yaml\n    cron: \"0 10 1 *\"\n  - scenario: web.yaml\n    id: w2\n    when: fifth monday of the month at 10:00\n  - scenario: nope.yaml\n    cron: \"* * * * *\"\nfreeze:\n  - { from: 2026-12-20, to: 2026-12-01, reason: x }\ngates:\n  http_ok: [{ url: \"ftp://x\" }]\n",
    )
    .unwrap_err();
    let f = dir.path().join("calendar.yaml").display().to_string();
    let expect = [
        format!("{f}:2:11: timezone: unknown time zone `Europe/Pariss`"),
        format!("{f}:5:11: gamedays[0].cron: \"0 10 1 *\" has 4 field(s)"),
        format!("{f}:8:11: gamedays[1].when: `fifth` is not first"),
        format!("{f}:9:15: gamedays[2].scenario: scenario {}", dir.path().join("nope.yaml").display()),
        format!("{f}:10:11: gamedays[2].cron: this schedule fires more than once an hour"),
        format!("{f}:12:29: freeze[0].to: `to` (2026-12-01) is before `from` (2026-12-20)"),
        format!("{f}:14:20: gates.http_ok[0].url: \"ftp://x\" is not an http:// or https:// URL"),
    ];
    for e in &expect {
        assert!(errors.iter().any(|x| x.starts_with(e.as_str())), "missing {e} in {errors:#?}");
    }
    let typo = calendar(
        dir.path(),
        "version: 1\ntimezone: UTC\ngamedays:\n  - scenario: web.yaml\n    cronn: \"0 1 * * *\"\n",
    )
    .unwrap_err();
    assert!(typo[0].starts_with(&format!("{f}:5:5: gamedays[0]")) && typo[0].contains("cronn"), "{typo:?}");
    let top = calendar(dir.path(), "version: 1\ntimezone: UTC\ngamedays: []\nfreez: []\n").unwrap_err();
    // The unknown field no longer hides the empty list beside it.
    assert_eq!(
        top,
        [
            format!("{f}:3:11: gamedays: a calendar lists at least one game day"),
            format!("{f}:4:1: freez: unknown field `freez`, did you mean `freeze`?")
        ]
    );
}

#[test]
fn the_committed_calendar_schema_is_current() {
    let committed: serde_json::Value = serde_json::from_str(include_str!("../../schema/calendar.schema.json")).unwrap();
    assert_eq!(
        committed,
        json_schema(),
        "schema/calendar.schema.json is stale: run `cargo run -- schema calendar > schema/calendar.schema.json`"
    );
}

#[test]
fn only_files_with_a_top_level_gamedays_key_are_calendars() {
    assert!(is_calendar("version: 1\ngamedays:\n  - scenario: a.yaml\n"));
    assert!(!is_calendar("version: 1\nname: x\n# gamedays: no\nnotes:\n  gamedays: 1\n"));
}

/// A hostile calendar with thousands of game days is refused at once with one problem,
/// before any of them is checked or any scenario loaded.
#[test]
fn a_calendar_with_too_many_game_days_is_refused_at_once() {
    let mut text = String::from("version: 1\ntimezone: UTC\ngamedays:\n");
    for _ in 0..=super::MAX_GAMEDAYS {
        text.push_str("  - scenario: a.yaml\n    cron: \"0 10 1 * *\"\n");
    }
    let e = match super::load_str(&text, std::path::Path::new("/nonexistent")) {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].1.as_str(), e[0].2.as_str()), ("gamedays", "101 entries; a calendar lists at most 100"));
}

/// A part that does not load (an unknown field, a value of the wrong type) no longer
/// hides the problems of the rest: a bad time zone, cron, `when:` and a reversed freeze
/// come out in the same pass, each at its FILE:LINE:COL, in file order.
#[test]
fn every_calendar_problem_comes_out_in_one_pass_even_beside_a_part_that_does_not_load() {
    let dir = tempfile::tempdir().unwrap();
    let errors = calendar(
        dir.path(),
        "version: 1\ntimezone: Mars/Olympus\ngamedays:\n  - scenario: web.yaml\n    cron: \"0 10 1 *\"\n  - scenario: web.yaml\n    id: w2\n    when: someday at noon\n  - scenario: web.yaml\n    id: w3\n    cronn: \"0 1 * * *\"\nfreeze:\n  - { from: 2026-12-20, to: 2026-12-01, reason: x }\n  - { from: 2026-01-01, to: 2026-01-02, reason: 5, extra: y }\ngates: { alarms_ok: oops }\n",
    )
    .unwrap_err();
    let f = dir.path().join("calendar.yaml").display().to_string();
    let expect = [
        format!("{f}:2:11: timezone: unknown time zone `Mars/Olympus`"),
        format!("{f}:5:11: gamedays[0].cron: \"0 10 1 *\" has 4 field(s)"),
        format!("{f}:8:11: gamedays[1].when: "),
        format!("{f}:11:5: gamedays[2]"),
        format!("{f}:13:29: freeze[0].to: `to` (2026-12-01) is before `from` (2026-12-20)"),
        format!("{f}:14:49: freeze[1].reason: expected a string"),
        format!("{f}:14:52: freeze[1].extra: unknown field `extra`"),
        format!("{f}:15:21: gates.alarms_ok: expected a list"),
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (e, want) in errors.iter().zip(&expect) {
        assert!(e.starts_with(want.as_str()), "expected {want}… got {errors:#?}");
    }
    assert!(errors[3].contains("cronn"), "{errors:#?}");
    // Nothing that only follows from what was left out: w3's missing schedule, say.
    assert!(!errors.iter().any(|e| e.contains("needs `cron`")), "{errors:#?}");
}

/// A value listed twice in a calendar's lists is a warning at the repeat, as in a
/// scenario's; the calendar stays valid.
#[test]
fn a_repeated_announcement_or_gate_alarm_is_a_warning_at_the_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let cal = calendar(
        dir.path(),
        "version: 1\ntimezone: UTC\ngamedays:\n  - scenario: web.yaml\n    cron: \"0 10 * * 2\"\n    announce: [1h, 15m, 1h]\n\
         gates:\n  alarms_ok: [shop-5xx, shop-5xx]\n",
    )
    .unwrap();
    let w: Vec<String> = cal.warnings.iter().map(ToString::to_string).collect();
    let file = dir.path().join("calendar.yaml");
    assert_eq!(
        w,
        [
            format!(
                "{}:6:25: gamedays[0].announce[2]: `1h` is listed again (first on line 6): the repeat changes nothing: remove it",
                file.display()
            ),
            format!(
                "{}:8:25: gates.alarms_ok[1]: `shop-5xx` is listed again (first on line 8): the repeat changes nothing: remove it",
                file.display()
            ),
        ]
    );
}
