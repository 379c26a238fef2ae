//! RESULTS.md: the machine and the commands, the table (each figure beside its
//! baseline from the same run, as a ratio, against its target), the worst ratio, and a
//! section per scenario.

/// One line of the summary table.
pub struct Row {
    pub scenario: String,
    pub figure: String,
    pub baseline: String,
    /// Figure over baseline, where there is one (of the medians).
    pub ratio: Option<f64>,
    /// The ratio in each round (service and baseline of the same round).
    pub rounds: Vec<f64>,
    pub target: String,
    /// For a ratio target, ratio ÷ the ratio asked for (1 is just met); the worst
    /// ratio has the lowest.
    pub margin: Option<f64>,
    /// Whether the target is met; `None` when it is only reported.
    pub met: Option<bool>,
    /// Why it is (not) met, when the ratio alone does not say.
    pub note: String,
}

/// The report being assembled, in the order.
pub struct Report {
    rows: Vec<(u8, Row)>,
    sections: Vec<(u8, String)>,
    smoke: bool,
}

impl Report {
    pub fn new(smoke: bool) -> Self {
        Report {
            rows: Vec::new(),
            sections: Vec::new(),
            smoke,
        }
    }

    /// Adds the summary line and the section of scenario number `order`.
    pub fn add(&mut self, order: u8, row: Row, section: String) {
        println!("== {}: {}", row.scenario, row.figure);
        self.rows.push((order, row));
        self.sections.push((order, section));
    }

    /// A section without a summary line.
    pub fn section(&mut self, order: u8, section: String) {
        self.sections.push((order, section));
    }

    fn sorted_rows(&self) -> Vec<&Row> {
        let mut rows: Vec<_> = self.rows.iter().collect();
        rows.sort_by_key(|(o, _)| *o);
        rows.into_iter().map(|(_, r)| r).collect()
    }

    /// The summary table.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| scenario | figure | baseline in the same run | ratio | target | met |\n|---|---|---|---|---|---|\n",
        );
        for row in self.sorted_rows() {
            let mut ratio = row.ratio.map_or("—".into(), |r| format!("{r:.2}"));
            if row.rounds.len() > 1 {
                let lo = row.rounds.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = row.rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                ratio.push_str(&format!(" (rounds {lo:.2}–{hi:.2})"));
            }
            let met = if self.smoke {
                "not checked (smoke)".to_owned()
            } else {
                match row.met {
                    Some(true) => "met".to_owned(),
                    Some(false) => "**not met**".to_owned(),
                    None if row.target == "reported" => "reported".to_owned(),
                    None => "undecided".to_owned(),
                }
            };
            let met = if row.note.is_empty() {
                met
            } else {
                format!("{met}: {}", row.note)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                row.scenario, row.figure, row.baseline, ratio, row.target, met
            ));
        }
        out
    }

    /// The ratio furthest below (or least above) its target, and its margin.
    pub fn worst(&self) -> Option<(&Row, f64)> {
        self.sorted_rows()
            .into_iter()
            .filter_map(|r| Some((r, r.margin?)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The scenarios whose target is not met.
    pub fn not_met(&self) -> Vec<String> {
        self.sorted_rows()
            .into_iter()
            .filter(|r| r.met == Some(false))
            .map(|r| r.scenario.clone())
            .collect()
    }

    /// The sections in order.
    pub fn sections(&self) -> String {
        let mut sections: Vec<_> = self.sections.iter().collect();
        sections.sort_by_key(|(o, _)| *o);
        sections
            .into_iter()
            .filter(|(_, s)| !s.trim().is_empty())
            .map(|(_, s)| s.trim_end().to_owned())
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// `12,345`, `812`, `9.5`: a rate's number.
pub fn num(x: f64) -> String {
    if x >= 100.0 {
        thousands(x.round() as u64)
    } else {
        format!("{x:.1}")
    }
}

/// `12,345/s`, `812/s`, `9.5/s`.
pub fn rate(x: f64) -> String {
    format!("{}/s", num(x))
}

/// A count with thousands separators.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `3.14 ms`.
pub fn ms(x: f64) -> String {
    if x >= 1000.0 {
        format!("{} ms", thousands(x.round() as u64))
    } else if x >= 100.0 {
        format!("{x:.0} ms")
    } else if x >= 10.0 {
        format!("{x:.1} ms")
    } else {
        format!("{x:.2} ms")
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `a, b, c` with each formatted by `f`.
pub fn list(values: &[f64], f: impl Fn(f64) -> String) -> String {
    values.iter().map(|v| f(*v)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(rate(12_345.4), "12,345/s");
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0]), 2.5);
    }
}
