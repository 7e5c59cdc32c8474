//! Issue 14: a message's text is normalised once per request. Routing between bundles
//! detects the language on the default bundle's normalisation of the text, and the
//! message carries that normalisation to the bundle it is routed to
//! (`bundles::Routed`). That bundle reuses it when it normalises the same way, and
//! normalises again when it does not (the multilingual bundle's vocabulary has emoji the
//! English one spells out). Either way the prepared message must be exactly what
//! preparing it on that bundle from scratch gives.

mod common;

use std::sync::Arc;
use triage_core::api::ClassifyRequest;
use triage_core::bundles::{Bundles, Served};
use triage_core::classify::Classifier;
use triage_core::config::Config;
use triage_core::model::Bundle;
use triage_core::text::Channel;

const MULTI: &str = "triage-multi-small";

fn served(rel: &str) -> Served {
    let dir = common::repo_path(rel);
    let bundle = Bundle::load(dir.to_str().unwrap()).expect("bundle loads");
    Served {
        classifier: Arc::new(Classifier::new(bundle, Config::default())),
        kb: None,
    }
}

#[test]
fn a_routed_message_is_prepared_as_its_bundle_would_from_scratch() {
    let bundles = Bundles::new(vec![
        served("models/triage-en-small"),
        served("models/triage-multi-small"),
    ])
    .expect("two bundles");
    let texts = [
        ("where is my parcel 😡", None),
        ("我的快递到哪里了 😡😡", None),
        ("請問訂單在哪裡", Some("voice")),
        ("  uh [noise] my refund  ", Some("voice")),
        (
            "Re: order\n\n> quoted line\nthanks 🙏\n--\nBob",
            Some("email"),
        ),
        ("@shop #fail 退款!!! 😂😂 https://t.co/x", Some("social")),
        ("[noise]", Some("voice")),
        ("hello", Some("fax")),
        ("\u{200b}", None),
    ];
    let routes: [(Option<&str>, Option<&str>); 3] =
        [(None, None), (Some("zh"), None), (None, Some(MULTI))];
    let mut prepared = 0;
    for (text, channel) in texts {
        for (lang, model) in routes {
            let item = ClassifyRequest {
                text: Some(text.to_string()),
                channel: channel.map(String::from),
                lang: lang.map(String::from),
                model: model.map(String::from),
                ..Default::default()
            };
            let (served, lang) = bundles.route(model, lang, text, channel).expect("routes");
            let expected = served.classifier.prepare(&ClassifyRequest {
                lang,
                ..item.clone()
            });
            let routed = bundles.route_item(item).expect("routes");
            assert_eq!(routed.served().name(), served.name(), "{text:?}");
            match (routed.prepare(), expected) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got.text, want.text, "{text:?} {channel:?}");
                    assert_eq!(got.lang, want.lang, "{text:?} {channel:?}");
                    assert_eq!(got.channel, want.channel, "{text:?} {channel:?}");
                    assert_eq!(got.encoded.ids, want.encoded.ids, "{text:?} {channel:?}");
                    prepared += 1;
                }
                (Err(got), Err(want)) => assert_eq!(got.to_string(), want.to_string()),
                (got, want) => panic!(
                    "{text:?} {channel:?}: routed {:?}, from scratch {:?}",
                    got.err().map(|e| e.to_string()),
                    want.err().map(|e| e.to_string())
                ),
            }
        }
    }
    assert!(prepared >= 20, "only {prepared} messages prepared");
    // Both ways were taken only if the two bundles normalise emoji differently.
    let [en, multi] = bundles.all() else {
        panic!("two bundles")
    };
    assert_ne!(
        en.classifier.normalize_text("refund 😡", Channel::Chat),
        multi.classifier.normalize_text("refund 😡", Channel::Chat),
        "the bundles normalise alike: the re-normalisation path is not exercised"
    );
}
