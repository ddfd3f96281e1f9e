//! Opening hours: days of the week and times of day, in UTC.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// One opening period as clients send and see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHoursDto {
    /// `monday` … `sunday`.
    #[schema(example = "monday")]
    pub day: String,
    /// `HH:MM`, UTC.
    #[schema(example = "11:30")]
    pub opens: String,
    /// `HH:MM`, UTC, after `opens`; `24:00` for midnight.
    #[schema(example = "22:00")]
    pub closes: String,
}

/// One opening period as stored: day 0 (Monday) to 6, minutes since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    pub day: i32,
    pub opens: i32,
    pub closes: i32,
}

impl OpeningHours {
    /// Validates one period; the error says what is wrong.
    pub fn parse(dto: &OpeningHoursDto) -> Result<Self, String> {
        let day = DAYS
            .iter()
            .position(|day| day.eq_ignore_ascii_case(dto.day.trim()))
            .ok_or("day must be monday to sunday")?;
        let opens = minutes(&dto.opens).ok_or("opens must be HH:MM")?;
        let closes = minutes(&dto.closes).ok_or("closes must be HH:MM")?;
        if closes <= opens {
            return Err("closes must be after opens".into());
        }
        Ok(Self {
            day: i32::try_from(day).unwrap_or_default(),
            opens,
            closes,
        })
    }

    /// Back to what clients see.
    pub fn to_dto(self) -> OpeningHoursDto {
        let day = usize::try_from(self.day)
            .ok()
            .and_then(|day| DAYS.get(day))
            .copied()
            .unwrap_or("monday");
        OpeningHoursDto {
            day: day.to_owned(),
            opens: clock(self.opens),
            closes: clock(self.closes),
        }
    }

    /// Whether `(day, minute)` falls in this period.
    pub fn contains(self, day: i32, minute: i32) -> bool {
        self.day == day && self.opens <= minute && minute < self.closes
    }
}

/// Today's day index (Monday 0) and the minute of the day, UTC.
pub fn now() -> (i32, i32) {
    use chrono::{Datelike, Timelike};
    let now = chrono::Utc::now();
    let day = i32::try_from(now.weekday().num_days_from_monday()).unwrap_or_default();
    let minute = i32::try_from(now.hour() * 60 + now.minute()).unwrap_or_default();
    (day, minute)
}

fn minutes(text: &str) -> Option<i32> {
    let (hours, minutes) = text.trim().split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let (hours, minutes): (i32, i32) = (hours.parse().ok()?, minutes.parse().ok()?);
    match (hours, minutes) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(hours * 60 + minutes),
        _ => None,
    }
}

fn clock(minutes: i32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dto(day: &str, opens: &str, closes: &str) -> OpeningHoursDto {
        OpeningHoursDto {
            day: day.into(),
            opens: opens.into(),
            closes: closes.into(),
        }
    }

    #[test]
    fn periods_round_trip() {
        let hours = OpeningHours::parse(&dto("Friday", "11:30", "24:00")).expect("valid");
        assert_eq!(
            hours,
            OpeningHours {
                day: 4,
                opens: 690,
                closes: 1440
            }
        );
        assert_eq!(hours.to_dto(), dto("friday", "11:30", "24:00"));
    }

    #[test]
    fn bad_periods_say_why() {
        assert!(
            OpeningHours::parse(&dto("funday", "10:00", "11:00"))
                .expect_err("bad day")
                .contains("day")
        );
        assert!(
            OpeningHours::parse(&dto("monday", "9:00", "11:00"))
                .expect_err("bad time")
                .contains("opens")
        );
        assert!(
            OpeningHours::parse(&dto("monday", "10:00", "24:30"))
                .expect_err("bad time")
                .contains("closes")
        );
        assert!(
            OpeningHours::parse(&dto("monday", "12:00", "11:00"))
                .expect_err("backwards")
                .contains("after")
        );
    }

    #[test]
    fn a_period_contains_its_start_but_not_its_end() {
        let hours = OpeningHours {
            day: 0,
            opens: 600,
            closes: 660,
        };
        assert!(hours.contains(0, 600));
        assert!(!hours.contains(0, 660));
        assert!(!hours.contains(1, 630));
    }
}
