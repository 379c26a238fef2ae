//! Billing cycles: a cycle starts at 00:00 on the reset day in the billing time zone,
//! clamped to the last day of a shorter month; calendar months for purchase expiry.
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::Config;

/// One monthly billing period, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The reset day and time zone that cut time into cycles.
#[derive(Debug, Clone, Copy)]
pub struct BillingCalendar {
    reset_day: u32,
    tz: Tz,
}

impl BillingCalendar {
    /// `reset_day` is 1–31; a month shorter than that resets on its last day.
    pub fn new(reset_day: u32, tz: Tz) -> Self {
        BillingCalendar { reset_day, tz }
    }

    pub fn from_config(config: &Config) -> Self {
        Self::new(config.monthly_reset_day, config.billing_time_zone)
    }

    /// The cycle that `t` falls in.
    pub fn cycle_containing(&self, t: DateTime<Utc>) -> Cycle {
        let local = t.with_timezone(&self.tz).date_naive();
        let this_month = first_of_month(local);
        let reset = self.reset_in(this_month);
        if t >= reset {
            Cycle {
                start: reset,
                end: self.reset_in(this_month + Months::new(1)),
            }
        } else {
            Cycle {
                start: self.reset_in(this_month - Months::new(1)),
                end: reset,
            }
        }
    }

    /// `t` plus `months` calendar months on the billing calendar's wall clock; a day
    /// the target month lacks becomes its last day (29 February + 12 months = 28 February).
    pub fn add_months(&self, t: DateTime<Utc>, months: u32) -> DateTime<Utc> {
        let local = t.with_timezone(&self.tz).naive_local();
        let target = local
            .checked_add_months(Months::new(months))
            .unwrap_or(NaiveDateTime::MAX);
        resolve_local(self.tz, target)
    }

    /// The reset instant of the month that starts on `first`.
    fn reset_in(&self, first: NaiveDate) -> DateTime<Utc> {
        let last_day = (first + Months::new(1)).pred_opt().map_or(28, |d| d.day());
        let day = first.with_day(self.reset_day.min(last_day)).unwrap_or(first);
        resolve_local(self.tz, day.and_time(chrono::NaiveTime::MIN))
    }
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// The instant a wall-clock time names in `tz`: the earlier of two when the clock falls
/// back, and the first instant after the gap when the clock springs over it.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    // DST gaps last at most a few hours; a day of one-minute steps always leaves one.
    for minutes in 0..=24 * 60 {
        if let Some(t) = tz
            .from_local_datetime(&(local + TimeDelta::minutes(minutes)))
            .earliest()
        {
            return t.with_timezone(&Utc);
        }
    }
    local.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Berlin;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("a valid instant")
    }

    fn cycle(start: &str, end: &str) -> Cycle {
        Cycle {
            start: utc(start),
            end: utc(end),
        }
    }

    #[test]
    fn cycles_on_the_first_of_the_month_in_utc() {
        let calendar = BillingCalendar::new(1, Tz::UTC);
        let table = [
            (
                "2026-11-24T12:00:00Z",
                cycle("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"),
            ),
            (
                "2026-12-01T00:00:00Z",
                cycle("2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ),
            (
                "2026-11-30T23:59:59.999999Z",
                cycle("2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"),
            ),
            (
                "2026-12-31T23:00:00Z",
                cycle("2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ),
        ];
        for (t, expected) in table {
            assert_eq!(calendar.cycle_containing(utc(t)), expected, "at {t}");
        }
    }

    #[test]
    fn reset_day_31_falls_on_the_last_day_of_shorter_months() {
        let calendar = BillingCalendar::new(31, Tz::UTC);
        let table = [
            (
                "2026-02-15T00:00:00Z",
                cycle("2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"),
            ),
            (
                "2026-02-28T00:00:00Z",
                cycle("2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z"),
            ),
            (
                "2028-02-28T12:00:00Z",
                cycle("2028-01-31T00:00:00Z", "2028-02-29T00:00:00Z"),
            ),
            (
                "2028-02-29T00:00:00Z",
                cycle("2028-02-29T00:00:00Z", "2028-03-31T00:00:00Z"),
            ),
            (
                "2026-04-30T00:00:00Z",
                cycle("2026-04-30T00:00:00Z", "2026-05-31T00:00:00Z"),
            ),
            (
                "2026-04-29T23:59:59Z",
                cycle("2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"),
            ),
        ];
        for (t, expected) in table {
            assert_eq!(calendar.cycle_containing(utc(t)), expected, "at {t}");
        }
    }

    #[test]
    fn reset_day_29_in_february_of_leap_and_common_years() {
        let calendar = BillingCalendar::new(29, Tz::UTC);
        assert_eq!(
            calendar.cycle_containing(utc("2027-02-28T00:00:00Z")),
            cycle("2027-02-28T00:00:00Z", "2027-03-29T00:00:00Z")
        );
        assert_eq!(
            calendar.cycle_containing(utc("2028-02-28T23:00:00Z")),
            cycle("2028-01-29T00:00:00Z", "2028-02-29T00:00:00Z")
        );
    }

    #[test]
    fn berlin_cycles_start_at_local_midnight_across_both_dst_changes() {
        let calendar = BillingCalendar::new(1, Berlin);
        // March 2026: winter time (UTC+1) at the start, summer time (UTC+2) at the end.
        let march = calendar.cycle_containing(utc("2026-03-15T12:00:00Z"));
        assert_eq!(march, cycle("2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"));
        assert_eq!(march.end - march.start, TimeDelta::days(31) - TimeDelta::hours(1));
        // October 2026: summer time at the start, winter time at the end.
        let october = calendar.cycle_containing(utc("2026-10-15T12:00:00Z"));
        assert_eq!(october, cycle("2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"));
        assert_eq!(october.end - october.start, TimeDelta::days(31) + TimeDelta::hours(1));
        // 23:30 UTC on 31 October is already 1 November in Berlin.
        assert_eq!(
            calendar.cycle_containing(utc("2026-10-31T23:30:00Z")).start,
            utc("2026-10-31T23:00:00Z")
        );
    }

    #[test]
    fn a_midnight_skipped_by_dst_starts_the_cycle_when_the_clock_resumes() {
        // Santiago springs from 00:00 to 01:00 on 6 September 2026.
        let calendar = BillingCalendar::new(6, chrono_tz::America::Santiago);
        let cycle = calendar.cycle_containing(utc("2026-09-10T12:00:00Z"));
        assert_eq!(cycle.start, utc("2026-09-06T04:00:00Z"));
    }

    #[test]
    fn twelve_calendar_months_after_29_february_is_28_february() {
        let calendar = BillingCalendar::new(1, Tz::UTC);
        assert_eq!(
            calendar.add_months(utc("2028-02-29T10:30:00Z"), 12),
            utc("2029-02-28T10:30:00Z")
        );
        assert_eq!(
            calendar.add_months(utc("2026-11-24T18:00:00Z"), 12),
            utc("2027-11-24T18:00:00Z")
        );
        assert_eq!(
            calendar.add_months(utc("2027-03-31T00:00:00Z"), 12),
            utc("2028-03-31T00:00:00Z")
        );
    }

    #[test]
    fn calendar_months_keep_the_wall_clock_in_the_billing_time_zone() {
        let calendar = BillingCalendar::new(1, Berlin);
        // 10:00 in Berlin in winter stays 10:00 in Berlin in summer.
        assert_eq!(
            calendar.add_months(utc("2026-01-15T09:00:00Z"), 6),
            utc("2026-07-15T08:00:00Z")
        );
    }
}
