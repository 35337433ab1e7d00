//! Repeated entries in lists, for every file firedrill reads as YAML (scenario, playbook,
//! calendar). One walk over the positioned tree finds each list of plain values
//! (strings, numbers) in which a value comes again, whatever the list; a small table per
//! kind of file says which lists refuse a repeat (it hides a mistake) and which compare
//! their values without case. Every other repeat changes nothing and is a warning. Each
//! is reported at the repeat's position, naming where the value came first.

use std::collections::HashMap;

use super::yaml::{Loc, Node, Value, join};

/// What a repeated value in a list is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Valid: the repeat changes nothing (a warning).
    Warn,
    /// Invalid: the repeat hides a mistake or costs something (an error).
    Refuse,
}

/// A list whose repeats are not simply a warning, or whose values compare without case.
pub struct Rule {
    /// The list's path: keys joined by `.`, `[]` for any item of a list, `*` for any key
    /// (`faults[].network_blackhole.cidrs`, `targets.*.ids`).
    pub list: &'static str,
    pub repeat: Repeat,
    /// Why a repeat is refused, in the file's terms (said after the repeat).
    pub why: &'static str,
    /// Whether `A` and `a` are the same value (IAM action names).
    pub ignore_case: bool,
}

/// A repeated value: its position, its field path (`regions[2]`) and what to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub loc: Loc,
    pub path: String,
    pub message: String,
    pub repeat: Repeat,
}

/// The lists of a scenario whose repeats are refused or compared without case; a repeat
/// in any other list of plain values is a warning.
pub const SCENARIO: &[Rule] = &[
    Rule {
        list: "pages.alarms",
        repeat: Repeat::Refuse,
        why: "each alarm is watched once; was another alarm meant?",
        ignore_case: false,
    },
    Rule {
        list: "faults[].network_blackhole.cidrs",
        repeat: Repeat::Refuse,
        why: "each CIDR takes rules of a network ACL, which holds few; was another CIDR meant?",
        ignore_case: false,
    },
    Rule { list: "faults[].service_outage.actions", repeat: Repeat::Warn, why: "", ignore_case: true },
    Rule { list: "faults[].region_outage.except", repeat: Repeat::Warn, why: "", ignore_case: true },
];

/// A calendar's lists (`announce`, `gates.alarms_ok`): a repeat changes nothing.
pub const CALENDAR: &[Rule] = &[];

/// A playbook's lists: a repeat changes nothing.
pub const PLAYBOOK: &[Rule] = &[];

/// Every repeated value in the lists of plain values under `root`, in file order.
pub fn find(root: &Node, rules: &[Rule]) -> Vec<Found> {
    let mut out = Vec::new();
    walk(root, &mut Vec::new(), "", rules, &mut out);
    out
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Item,
}

fn walk<'a>(node: &'a Node, segs: &mut Vec<Seg<'a>>, path: &str, rules: &[Rule], out: &mut Vec<Found>) {
    match &node.value {
        Value::Seq(items) => {
            let rule = rules.iter().find(|r| matches(r.list, segs));
            check(items, path, rule, out);
            segs.push(Seg::Item);
            for (i, item) in items.iter().enumerate() {
                walk(item, segs, &format!("{path}[{i}]"), rules, out);
            }
            segs.pop();
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                segs.push(Seg::Key(&k.name));
                walk(v, segs, &join(path, &k.name), rules, out);
                segs.pop();
            }
        }
        _ => {}
    }
}

/// A plain value as written (`123456789012` and `"123456789012"` are the same id).
fn text(n: &Node) -> Option<String> {
    match &n.value {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Seq(_) | Value::Map(_) => None,
    }
}

fn check(items: &[Node], path: &str, rule: Option<&Rule>, out: &mut Vec<Found>) {
    let mut seen: HashMap<String, Loc> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let Some(value) = text(item) else { continue };
        let key = if rule.is_some_and(|r| r.ignore_case) { value.to_lowercase() } else { value.clone() };
        let Some(first) = seen.get(&key).copied() else {
            seen.insert(key, item.loc);
            continue;
        };
        let repeat = rule.map_or(Repeat::Warn, |r| r.repeat);
        let why = match repeat {
            Repeat::Warn => "the repeat changes nothing: remove it",
            Repeat::Refuse => rule.map_or("", |r| r.why),
        };
        out.push(Found {
            loc: item.loc,
            path: format!("{path}[{i}]"),
            message: format!("`{value}` is listed again (first on line {}): {why}", first.line),
            repeat,
        });
    }
}

/// Whether the list at `segs` is the one `pattern` names.
fn matches(pattern: &str, segs: &[Seg<'_>]) -> bool {
    let mut want: Vec<Option<&str>> = Vec::new(); // Some(key) / Some("*"), None = an item
    for part in pattern.split('.') {
        let mut key = part;
        let mut items = 0;
        while let Some(k) = key.strip_suffix("[]") {
            key = k;
            items += 1;
        }
        want.push(Some(key));
        want.extend(std::iter::repeat_n(None, items));
    }
    want.len() == segs.len()
        && want.iter().zip(segs).all(|(w, s)| match (w, s) {
            (None, Seg::Item) => true,
            (Some("*"), Seg::Key(_)) => true,
            (Some(k), Seg::Key(name)) => k == name,
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::yaml::parse;

    #[test]
    fn every_list_of_plain_values_is_checked_and_the_table_decides() {
        let root = parse(
            "a:\n  - x\n  - y\n  - x\nfaults:\n  - network_blackhole:\n      cidrs: [10.0.0.0/8, 10.0.0.0/8]\n  \
             - service_outage:\n      actions: [ses:SendEmail, SES:sendemail]\n\
             targets:\n  web:\n    ids: [i-1, i-2, i-1]\n    accounts: [123456789012, '123456789012']\n\
             maps: [{a: 1}, {a: 1}]\n",
        )
        .unwrap();
        let found = find(&root, SCENARIO);
        let got: Vec<(String, u64, Repeat)> = found.iter().map(|f| (f.path.clone(), f.loc.line, f.repeat)).collect();
        assert_eq!(
            got,
            [
                ("a[2]".to_string(), 4, Repeat::Warn),
                ("faults[0].network_blackhole.cidrs[1]".to_string(), 7, Repeat::Refuse),
                ("faults[1].service_outage.actions[1]".to_string(), 9, Repeat::Warn),
                ("targets.web.ids[2]".to_string(), 12, Repeat::Warn),
                ("targets.web.accounts[1]".to_string(), 13, Repeat::Warn),
            ]
        );
        assert_eq!(found[0].message, "`x` is listed again (first on line 2): the repeat changes nothing: remove it");
        assert!(found[1].message.ends_with("was another CIDR meant?"), "{}", found[1].message);
    }

    #[test]
    fn patterns_match_keys_items_and_any_key() {
        let segs = [Seg::Key("targets"), Seg::Key("web.a"), Seg::Key("ids")];
        assert!(matches("targets.*.ids", &segs));
        assert!(!matches("targets.*", &segs));
        let segs = [Seg::Key("faults"), Seg::Item, Seg::Key("x"), Seg::Key("y")];
        assert!(matches("faults[].x.y", &segs));
        assert!(!matches("faults.x.y", &segs));
    }
}
