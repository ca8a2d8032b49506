//! The page and its assets, compiled into the binary: nothing comes from a CDN, so the page
//! works offline and under the strict Content-Security-Policy.

use ballot::VoteOption;
use serde::Serialize;
use service_kit::http::page_template;
use tera::{Context, Tera};

use crate::configuration::Settings;

const INDEX_TEMPLATE: &str = "index.html";
pub const STYLESHEET: &str = include_str!("../static/vote.css");
pub const FAVICON: &str = include_str!("../static/favicon.svg");

/// The templates, parsed once at start-up and shared by all workers.
pub struct Pages {
    tera: Tera,
    /// What every render shares: labels, host name, version.
    base: Context,
}

#[derive(Serialize)]
struct OptionView<'a> {
    value: &'static str,
    label: &'a str,
    chosen: bool,
}

impl Pages {
    pub fn new(settings: &Settings) -> Pages {
        let tera = page_template(INDEX_TEMPLATE, include_str!("../templates/index.html"))
            .expect("the page template is valid: any test that renders it proves so");
        let mut base = Context::new();
        base.insert("option_a", &settings.option_a);
        base.insert("option_b", &settings.option_b);
        base.insert("hostname", &settings.hostname);
        base.insert("version", &settings.app_version);
        Pages { tera, base }
    }

    /// The voting page, with the voter's current choice marked.
    pub fn index(&self, settings: &Settings, current_vote: Option<VoteOption>) -> String {
        let options: Vec<OptionView> = VoteOption::ALL
            .iter()
            .map(|&option| OptionView {
                value: option.as_str(),
                label: settings.label(option),
                chosen: current_vote == Some(option),
            })
            .collect();
        let mut context = self.base.clone();
        context.insert("options", &options);
        context.insert(
            "chosen_label",
            &current_vote.map(|option| settings.label(option)),
        );
        self.tera
            .render(INDEX_TEMPLATE, &context)
            .expect("the context holds every variable the template uses")
    }
}
