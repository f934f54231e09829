//! The device a session was opened from, as its user recognises it
//! ("Chrome on Linux", "Safari on iPhone"), read from the stored
//! `User-Agent` header.

use std::fmt;

/// A browser and an operating system, each `None` when the user agent
/// does not say (or says nothing a parser knows).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Device {
    pub browser: Option<String>,
    pub os: Option<String>,
}

impl Device {
    /// Parses a `User-Agent` header; a missing or unknown one gives an
    /// empty device.
    pub fn from_user_agent(user_agent: Option<&str>) -> Device {
        let Some(parsed) = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua))
        else {
            return Device::default();
        };
        Device {
            browser: known(parsed.name).map(str::to_owned),
            os: known(parsed.os).map(os_name),
        }
    }
}

/// What the parser says, unless it says it does not know.
fn known(value: &str) -> Option<&str> {
    (!value.is_empty() && value != woothee::woothee::VALUE_UNKNOWN).then_some(value)
}

/// The names people use today for what the parser reports.
fn os_name(os: &str) -> String {
    match os {
        "Mac OSX" | "Mac OS Classic" => "macOS".to_owned(),
        w if w.starts_with("Windows") && !w.starts_with("Windows Phone") => "Windows".to_owned(),
        other => other.to_owned(),
    }
}

impl fmt::Display for Device {
    /// "Chrome on Linux", "Firefox" (no OS known), "Unknown browser on
    /// Android", or "Unknown browser".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.browser.as_deref().unwrap_or("Unknown browser"))?;
        if let Some(os) = &self.os {
            write!(f, " on {os}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(ua: &str) -> String {
        Device::from_user_agent(Some(ua)).to_string()
    }

    #[test]
    fn real_user_agents_name_browser_and_system() {
        assert_eq!(
            shown("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"),
            "Chrome on Linux"
        );
        assert_eq!(
            shown("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15"),
            "Firefox on iPhone"
        );
        assert_eq!(
            shown("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"),
            "Safari on macOS"
        );
        assert_eq!(
            shown(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0"
            ),
            "Firefox on Windows"
        );
    }

    #[test]
    fn unknown_or_missing_agents_are_unknown_browsers() {
        assert_eq!(Device::from_user_agent(None).to_string(), "Unknown browser");
        assert_eq!(shown(""), "Unknown browser");
        assert_eq!(shown("reqwest"), "Unknown browser");
        assert_eq!(shown("<script>"), "Unknown browser");
    }
}
