//! The audit as one self-contained HTML page: the findings table and an SVG map drawn
//! here (no script, no external asset; the Content-Security-Policy allows neither). Per
//! region, the zones stand side by side, each resource in its zone's column (subnets,
//! NAT gateways, instances, volumes, database instances, cache nodes); what spans zones
//! (groups, load balancers, database clusters) sits in a row below, and lines draw the
//! dependencies: group → subnets, load balancer → subnets, subnet → NAT gateway,
//! instance → volume, cluster → member. A resource named by an open finding is red.
//! Every box carries `data-id` (the resource id) and `data-kind`, which the browser test
//! reads back from the rendered DOM.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::{AuditDoc, RegionEstate};
use crate::report::html::esc;

const COL_W: i64 = 250;
const BOX_W: i64 = 220;
const BOX_H: i64 = 26;
const GAP: i64 = 8;
const PAD: i64 = 20;

/// The Content-Security-Policy of the page: nothing but its own inline styles.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

struct Map<'a> {
    svg: String,
    lines: String,
    at: BTreeMap<String, (i64, i64)>,
    bad: &'a BTreeSet<String>,
}

impl Map<'_> {
    /// A box at (x, y) (its top left) for resource `id`, labelled `label`.
    fn node(&mut self, kind: &str, id: &str, label: &str, x: i64, y: i64) {
        let class = if self.bad.contains(id) { "node bad" } else { "node" };
        let _ = write!(
            self.svg,
            r#"<g class="{class}" data-kind="{}" data-id="{}"><title>{} {}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="4"/><text x="{}" y="{}">{}</text></g>"#,
            esc(kind),
            esc(id),
            esc(kind),
            esc(id),
            x + 8,
            y + 17,
            esc(&shorten(label, 30))
        );
        self.at.insert(id.to_string(), (x + BOX_W / 2, y + BOX_H / 2));
    }

    fn line(&mut self, from: &str, to: &str) {
        if let (Some(a), Some(b)) = (self.at.get(from), self.at.get(to)) {
            let bad = self.bad.contains(from) || self.bad.contains(to);
            let _ = write!(
                self.lines,
                r#"<line class="{}" data-from="{}" data-to="{}" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
                if bad { "dep bad" } else { "dep" },
                esc(from),
                esc(to),
                a.0,
                a.1,
                b.0,
                b.1
            );
        }
    }
}

fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

/// One region's map as an `<svg>` element.
fn region_svg(r: &RegionEstate, bad: &BTreeSet<String>) -> String {
    let mut m = Map { svg: String::new(), lines: String::new(), at: BTreeMap::new(), bad };
    let zones: Vec<&String> = r.zones.iter().collect();
    let mut bottom = PAD + 40;
    for (i, zone) in zones.iter().enumerate() {
        let x = PAD + i as i64 * COL_W;
        let _ = write!(m.svg, r#"<text class="zone" x="{}" y="{}">{}</text>"#, x + 4, PAD + 14, esc(zone));
        let mut y = PAD + 26;
        let mut put = |m: &mut Map, kind: &str, id: &str, label: String| {
            m.node(kind, id, &label, x + (COL_W - BOX_W) / 2 - 5, y);
            y += BOX_H + GAP;
        };
        for s in r.subnets.iter().filter(|s| &&s.zone == zone) {
            put(&mut m, "subnet", &s.id, format!("subnet {}", s.id));
        }
        for n in r.nat_gateways.iter().filter(|n| &&n.zone == zone) {
            put(&mut m, "nat", &n.id, format!("NAT {}", n.id));
        }
        for inst in r.instances.iter().filter(|i| &&i.zone == zone) {
            put(&mut m, "instance", &inst.id, format!("{} ({})", inst.id, inst.state));
        }
        for v in r.volumes.iter().filter(|v| &&v.zone == zone) {
            put(&mut m, "volume", &v.id, format!("volume {}", v.id));
        }
        for d in r.db_instances.iter().filter(|d| d.zone.as_ref() == Some(*zone)) {
            put(&mut m, "db", &d.id, format!("db {}{}", d.id, if d.multi_az { " (Multi-AZ)" } else { "" }));
        }
        for c in &r.caches {
            for n in c.nodes.iter().filter(|n| n.zone.as_ref() == Some(*zone)) {
                put(&mut m, "cache-node", &n.id, format!("cache {}", n.id));
            }
        }
        bottom = bottom.max(y);
    }
    let columns = zones.len().max(1) as i64;
    let width = (PAD * 2 + columns * COL_W).max(PAD * 2 + 3 * COL_W);
    // Zone columns' backgrounds, under everything.
    let mut back = String::new();
    for i in 0..zones.len() as i64 {
        let _ = write!(
            back,
            r#"<rect class="zonebox" x="{}" y="{PAD}" width="{}" height="{}" rx="6"/>"#,
            PAD + i * COL_W,
            COL_W - 10,
            bottom - PAD
        );
    }
    // Regional row: what spans zones.
    let mut y = bottom + 30;
    let _ = write!(m.svg, r#"<text class="zone" x="{}" y="{}">spans zones</text>"#, PAD + 4, y - 8);
    let per_row = (width - PAD) / COL_W;
    let mut k = 0;
    let mut place = |m: &mut Map, kind: &str, id: &str, label: String| {
        let x = PAD + (k % per_row) * COL_W;
        let yy = y + (k / per_row) * (BOX_H + GAP + 10);
        m.node(kind, id, &label, x, yy);
        k += 1;
    };
    for g in &r.groups {
        place(&mut m, "group", &g.name, format!("ASG {} (min {})", g.name, g.min));
    }
    for l in &r.load_balancers {
        place(&mut m, "load-balancer", &l.name, format!("LB {}", l.name));
    }
    for c in &r.db_clusters {
        place(&mut m, "db-cluster", &c.id, format!("cluster {}", c.id));
    }
    for c in &r.caches {
        place(&mut m, "cache", &c.id, format!("cache {}", c.id));
    }
    for a in &r.alarms {
        place(&mut m, "alarm", &a.name, format!("alarm {}", a.name));
    }
    y += ((k + per_row - 1) / per_row).max(1) * (BOX_H + GAP + 10);
    // Dependencies.
    for g in &r.groups {
        for s in &g.subnets {
            m.line(&g.name, s);
        }
    }
    for l in &r.load_balancers {
        for s in l.subnets.keys() {
            m.line(&l.name, s);
        }
    }
    for s in &r.subnets {
        for n in &s.nat_gateways {
            m.line(&s.id, n);
        }
    }
    for v in &r.volumes {
        for i in v.attached_to.keys() {
            m.line(i, &v.id);
        }
    }
    for c in &r.db_clusters {
        for mem in &c.members {
            m.line(&c.id, &mem.id);
        }
    }
    let height = y + PAD;
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="map" data-region="{}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{} by zone">{back}<g class="deps">{}</g>{}</svg>"#,
        esc(&r.region),
        esc(&r.region),
        m.lines,
        m.svg
    )
}

/// The page.
pub fn page(doc: &AuditDoc) -> String {
    let bad: BTreeSet<String> = doc.findings.iter().flat_map(|f| f.resources.iter().cloned()).collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{CSP}"><meta name="viewport" content="width=device-width, initial-scale=1"><title>firedrill audit: {}</title><style>{STYLE}</style></head><body><h1>Audit of account {}</h1>"#,
        esc(&doc.account),
        esc(&doc.account)
    );
    if !doc.tags.is_empty() {
        let t: Vec<String> = doc.tags.iter().map(|(k, v)| format!("<code>{}={}</code>", esc(k), esc(v))).collect();
        let _ = write!(s, "<p>Estate: resources tagged {}.</p>", t.join(", "));
    }
    // The map first: where everything is, the findings in red; then what they mean.
    let _ = write!(
        s,
        r#"<p class="legend">Red: named by a finding. Lines: group/load balancer → subnets, subnet → NAT gateway, instance → volume, cluster → member.</p>"#
    );
    for r in &doc.regions {
        let _ = write!(s, "<h2>{}</h2>", esc(&r.region));
        s.push_str(&region_svg(r, &bad));
    }
    let _ = write!(s, r#"<h2>Findings</h2>"#);
    if doc.findings.is_empty() {
        let _ = write!(s, r#"<p id="no-findings">No findings.</p>"#);
    } else {
        let _ = write!(
            s,
            r#"<table id="findings"><thead><tr><th>severity</th><th>kind</th><th>where</th><th>resources</th><th>finding</th><th>fix</th></tr></thead><tbody>"#
        );
        for f in &doc.findings {
            let place = [f.region.as_deref(), f.zone.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" / ");
            let _ = write!(
                s,
                r#"<tr class="sev-{}" data-finding="{}"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td><td>{}</td></tr>"#,
                f.severity.as_str(),
                esc(&f.id),
                f.severity.as_str(),
                f.kind.as_str(),
                esc(if place.is_empty() { "global" } else { &place }),
                esc(&f.resources.join(", ")),
                esc(&f.summary),
                esc(&f.why),
                esc(&f.fix)
            );
        }
        let _ = write!(s, "</tbody></table>");
    }
    if !doc.accepted.is_empty() {
        let _ = write!(s, "<h2>Accepted risks</h2><ul>");
        for a in &doc.accepted {
            let _ =
                write!(s, "<li><code>{}</code> until {}: {}</li>", esc(&a.finding.id), esc(&a.expires), esc(&a.reason));
        }
        let _ = write!(s, "</ul>");
    }
    s.push_str("</body></html>\n");
    s
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}tr.sev-high td:first-child,tr.sev-critical td:first-child{color:#b00;font-weight:bold}.map{display:block;margin:1em 0;background:#fafafa;border:1px solid #ddd}.zonebox{fill:#eef3fb;stroke:#c5d3ea}.zone{font-weight:bold;font-size:13px;fill:#345}.node rect{fill:#fff;stroke:#4a6fa5;stroke-width:1.2}.node text{font-size:11px;fill:#222}.node.bad rect{fill:#fde8e8;stroke:#c00;stroke-width:2}.node.bad text{fill:#900}.dep{stroke:#8aa1c1;stroke-width:1}.dep.bad{stroke:#c00;stroke-width:1.5}.legend{color:#555;font-size:90%}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::audit::AuditSubnet;

    /// Names from AWS are escaped wherever they land: text, attributes, titles.
    #[test]
    fn every_name_is_escaped() {
        let r = RegionEstate {
            region: "r\"><script>".into(),
            zones: vec!["z<1>".into()],
            subnets: vec![AuditSubnet {
                id: "subnet-<b>".into(),
                vpc: "v".into(),
                zone: "z<1>".into(),
                route_table: None,
                nat_gateways: vec![],
                tags: Default::default(),
            }],
            ..Default::default()
        };
        let doc = AuditDoc {
            audit_version: 1,
            account: "1".into(),
            tags: [("a<".to_string(), "\"b".to_string())].into(),
            regions: vec![r],
            roles: vec![],
            users: vec![],
            findings: vec![],
            accepted: vec![],
        };
        let page = page(&doc);
        assert!(!page.contains("<script>") && !page.contains("<b>") && !page.contains("z<1>"), "{page}");
        assert!(page.contains("subnet-&lt;b&gt;"), "{page}");
    }
}
