//! Redaction of secrets in URLs, the one place that decides how a URL is shown. An HTTP
//! probe's or a webhook's URL may carry credentials (`https://user:PASS@host/…`,
//! `?api_key=…`, a token in the fragment); wherever firedrill displays or stores one — the
//! plan, status lines, `report.json`/`.md`/`.html`, `junit.xml` — it goes through [`url`]
//! first. Only the scenario file itself (and its copy in the run directory) holds the
//! URL as written (see SECURITY.md).

/// What [`url`] keeps of a URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Scheme, host, port and path; the password (or a user name standing alone, often a
    /// token), every query value and the fragment become `***`. For probe URLs, whose
    /// path says what is checked.
    Path,
    /// Scheme, host and port only, with `/…` for a path. For webhook URLs, whose path is
    /// the secret (`https://hooks.slack.com/services/…`).
    Origin,
}

/// What replaces a secret.
pub const MASK: &str = "***";

/// `http://user:PASS@host/path?api_key=K&x=1#frag` shown without its secrets:
/// `http://user:***@host/path?api_key=***&x=***#***` ([`Keep::Path`]) or
/// `http://host/…` ([`Keep::Origin`]). Text that is not a URL is shown as
/// `<invalid URL>` (it may still hold a secret).
pub fn url(raw: &str, keep: Keep) -> String {
    let Ok(mut u) = reqwest::Url::parse(raw) else { return "<invalid URL>".into() };
    if keep == Keep::Origin {
        let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
        let path = if u.path().len() > 1 || u.query().is_some() || u.fragment().is_some() { "/…" } else { "" };
        return match u.host_str() {
            Some(host) => format!("{}://{host}{port}{path}", u.scheme()),
            None => format!("{}:…", u.scheme()),
        };
    }
    if u.password().is_some() {
        let _ = u.set_password(Some(MASK));
    } else if !u.username().is_empty() {
        let _ = u.set_username(MASK);
    }
    if u.query().is_some() {
        let keys: Vec<String> = u.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut q = u.query_pairs_mut();
        q.clear();
        for k in keys {
            q.append_pair(&k, MASK);
        }
    }
    if u.fragment().is_some_and(|f| !f.is_empty()) {
        u.set_fragment(Some(MASK));
    }
    // The serializer percent-encodes `*` in the query: show the mask as written.
    u.as_str().replace("%2A%2A%2A", MASK)
}

/// `text` with every `http://` or `https://` URL in it redacted (error messages of HTTP
/// libraries quote the URL they failed on, as written or after a redirect). A URL ends at
/// whitespace, a quote, `)` or `>`.
pub fn in_text(text: &str, keep: Keep) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(found) = ["http://", "https://"].iter().filter_map(|p| lower[i..].find(p)).min() {
        let start = i + found;
        let len = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ')' | '>'))
            .unwrap_or(text.len() - start);
        // Punctuation that ends a sentence is not part of the URL before it.
        let len = text[start..start + len].trim_end_matches([',', '.', ';', ':', '!', '?']).len();
        out.push_str(&text[i..start]);
        out.push_str(&url(&text[start..start + len], keep));
        i = start + len;
    }
    out.push_str(&text[i..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_query_values_and_fragments_are_masked() {
        assert_eq!(
            url("http://user:PASS@host:8080/health?api_key=K1&verbose=1#tok", Keep::Path),
            "http://user:***@host:8080/health?api_key=***&verbose=***#***"
        );
        assert_eq!(url("https://TOKEN@example.com/x", Keep::Path), "https://***@example.com/x");
        assert_eq!(url("http://127.0.0.1:8080/health", Keep::Path), "http://127.0.0.1:8080/health");
        assert_eq!(url("https://h/p?token", Keep::Path), "https://h/p?token=***");
        assert_eq!(url("not a url", Keep::Path), "<invalid URL>");
        for keep in [Keep::Path, Keep::Origin] {
            let shown = url("https://u:PASS@h.example/services/SECRET?sig=SIG#FRAG", keep);
            for secret in ["PASS", "SECRET&", "SIG", "FRAG"] {
                assert!(!shown.contains(secret), "{keep:?}: {shown}");
            }
        }
    }

    #[test]
    fn webhooks_keep_only_their_origin() {
        assert_eq!(url("https://hooks.slack.com/services/T0/B0/secret", Keep::Origin), "https://hooks.slack.com/…");
        assert_eq!(url("http://u:p@127.0.0.1:9/", Keep::Origin), "http://127.0.0.1:9");
        assert_eq!(url("http://127.0.0.1:9/?k=v", Keep::Origin), "http://127.0.0.1:9/…");
    }

    #[test]
    fn urls_in_error_messages_are_redacted() {
        let msg = "error sending request for url (http://user:PASS@host/x?api_key=K): redirected to \
                   HTTPS://other/y?sig=S2 then \"https://t@z/\"";
        let out = in_text(msg, Keep::Path);
        for secret in ["PASS", "=K", "S2", "t@"] {
            assert!(!out.contains(secret), "{secret}: {out}");
        }
        assert!(
            out.starts_with("error sending request for url (http://user:***@host/x?api_key=***): redirected to "),
            "{out}"
        );
        assert!(out.ends_with("\"https://***@z/\""), "{out}");
        assert_eq!(in_text("no url here", Keep::Path), "no url here");
    }

    #[test]
    fn punctuation_after_a_url_stays_outside_it() {
        assert_eq!(
            in_text("redirected to http://localhost:9, another host; see http://h/p?k=v.", Keep::Path),
            "redirected to http://localhost:9/, another host; see http://h/p?k=***."
        );
    }
}
