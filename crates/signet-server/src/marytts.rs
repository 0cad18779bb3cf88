//! The MaryTTS HTTP API, for clients that speak it (Home Assistant's MaryTTS
//! integration, openHAB, screen-reader bridges): `GET|POST /process`,
//! `GET /voices`, `GET /locales`, `GET /version`.
//!
//! Served only with `marytts = "anonymous"` (default `off`): MaryTTS
//! clients send no key, so every request without one is the `anonymous`
//! caller, under the `[auth]` limits all anonymous callers share, the
//! per-address connection caps, the body cap, the text limits and the
//! queue, as anonymous mode on the other endpoints. `/process` goes through
//! the same speech path as `/v1/audio/speech` (`http::speech`): same
//! worker pool, estimate, metrics (`endpoint="marytts"`) and logs without
//! text.
//!
//! MaryTTS's conventions: parameters in the query or as a form body (a POST
//! without `Content-Type` is read as a form: some clients send none);
//! listings and errors are plain text, one item per line. Accepted:
//! `INPUT_TEXT`, `INPUT_TYPE=TEXT`, `OUTPUT_TYPE=AUDIO`,
//! `AUDIO=WAVE_FILE` (or `WAVE`), `LOCALE`, `VOICE`; effect parameters
//! (`effect_*`) and `STYLE` are accepted and ignored; anything else is
//! refused (400). `VOICE` is a served voice or one of the
//! `[voice_aliases]` (so a client's fixed default, `cmu-slt-hsmm`, can be
//! aliased to a Signet voice); without `VOICE`, `LOCALE` picks the default
//! voice if it speaks that locale, else the first served voice that does.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use signet_encode::AudioFormat;

use crate::http::{speech, Door, Refused, SpeechRequest};
use crate::pool::Delivery;
use crate::AppState;

/// The MaryTTS version this API follows.
const MARY_VERSION: &str = "5.2";

/// Adds the MaryTTS routes.
pub(crate) fn routes(router: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    router
        .route("/process", any(process))
        .route("/voices", get(voices).fallback(not_get))
        .route("/locales", get(locales).fallback(not_get))
        .route("/version", get(version).fallback(not_get))
}

fn plain(status: StatusCode, text: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn not_get(State(st): State<Arc<AppState>>) -> Response {
    let r = Refused::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "MaryTTS's /voices, /locales and /version are GET; /process is GET or POST",
    );
    st.metrics.reject(r.reason);
    r.into_plain_response(&st.request_id())
}

/// `name locale gender type` per voice, as MaryTTS lists them (Signet's
/// manifests record no gender: `unknown`).
async fn voices(State(st): State<Arc<AppState>>) -> Response {
    let mut text = String::new();
    for (name, v) in &st.pool.voices {
        text.push_str(&format!("{name} {} unknown neural\n", v.language));
    }
    st.metrics.response("marytts", 200);
    plain(StatusCode::OK, text)
}

/// One locale per line.
async fn locales(State(st): State<Arc<AppState>>) -> Response {
    let mut langs: Vec<&str> = st
        .pool
        .voices
        .values()
        .map(|v| v.language.as_str())
        .collect();
    langs.sort_unstable();
    langs.dedup();
    let mut text = langs.join("\n");
    text.push('\n');
    st.metrics.response("marytts", 200);
    plain(StatusCode::OK, text)
}

async fn version(State(st): State<Arc<AppState>>) -> Response {
    st.metrics.response("marytts", 200);
    plain(
        StatusCode::OK,
        format!(
            "Mary TTS server {MARY_VERSION} (Signet {})\n",
            env!("CARGO_PKG_VERSION")
        ),
    )
}

/// `/process`'s parameters after merging the query and the form body.
#[derive(Default)]
struct Params {
    input_text: Option<String>,
    input_type: Option<String>,
    output_type: Option<String>,
    audio: Option<String>,
    locale: Option<String>,
    voice: Option<String>,
}

impl Params {
    /// Reads `key=value` pairs; a later value of a key replaces an earlier one.
    fn absorb(&mut self, pairs: Vec<(String, String)>) -> Result<(), String> {
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "INPUT_TEXT" => &mut self.input_text,
                "INPUT_TYPE" => &mut self.input_type,
                "OUTPUT_TYPE" => &mut self.output_type,
                "AUDIO" => &mut self.audio,
                "LOCALE" => &mut self.locale,
                "VOICE" => &mut self.voice,
                // Effects and styles change nothing in Signet's voices.
                k if k.starts_with("effect_") || k == "STYLE" => continue,
                k => {
                    let shown: String = k.chars().take(40).flat_map(char::escape_debug).collect();
                    return Err(format!(
                        "unknown parameter {shown}; /process takes INPUT_TEXT, INPUT_TYPE=TEXT, \
                         OUTPUT_TYPE=AUDIO, AUDIO=WAVE_FILE, LOCALE and VOICE"
                    ));
                }
            };
            *slot = Some(value);
        }
        Ok(())
    }
}

async fn process(State(st): State<Arc<AppState>>, req: Request) -> Response {
    let method = req.method().clone();
    if method != Method::GET && method != Method::POST {
        return not_get(State(st)).await;
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let state = Arc::clone(&st);
    speech(st, req, Door::MaryTts, move |headers, body| {
        parse(&state, &method, &query, headers, &body)
    })
    .await
}

fn parse(
    st: &AppState,
    method: &Method,
    query: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<SpeechRequest, Refused> {
    let bad = |m: String| Refused::new(StatusCode::BAD_REQUEST, "invalid_parameters", m);
    let mut p = Params::default();
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| bad(format!("invalid query string: {e}")))?;
    p.absorb(pairs).map_err(bad)?;
    if *method == Method::POST && !body.is_empty() {
        let form = headers.get(header::CONTENT_TYPE).is_none_or(|v| {
            v.as_bytes()
                .starts_with(b"application/x-www-form-urlencoded")
        });
        if !form {
            return Err(bad(
                "POST /process takes a form body (application/x-www-form-urlencoded)".into(),
            ));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
            .map_err(|e| bad(format!("invalid form body: {e}")))?;
        p.absorb(pairs).map_err(bad)?;
    }
    let is = |v: &Option<String>, want: &[&str]| {
        v.as_deref()
            .is_none_or(|v| want.iter().any(|w| v.eq_ignore_ascii_case(w)))
    };
    if !is(&p.input_type, &["TEXT"]) {
        return Err(bad(
            "INPUT_TYPE must be TEXT: Signet takes plain text (no RAWMARYXML, SSML or phonemes \
             on this API)"
                .into(),
        ));
    }
    if !is(&p.output_type, &["AUDIO"]) {
        return Err(bad("OUTPUT_TYPE must be AUDIO".into()));
    }
    if !is(&p.audio, &["WAVE_FILE", "WAVE"]) {
        return Err(bad(
            "AUDIO must be WAVE_FILE: Signet's MaryTTS API answers with WAV (16-bit, with its \
             provenance chunk)"
                .into(),
        ));
    }
    let text = p
        .input_text
        .ok_or_else(|| bad("the INPUT_TEXT parameter is required".into()))?;
    let voice = match (p.voice.filter(|v| !v.is_empty()), p.locale) {
        (Some(v), _) => v,
        (None, Some(locale)) if !locale.is_empty() => {
            voice_for_locale(st, &locale).ok_or_else(|| {
                Refused::new(
                    StatusCode::NOT_FOUND,
                    "unknown_locale",
                    "no voice on this server speaks that LOCALE; GET /locales lists them",
                )
            })?
        }
        _ => String::new(),
    };
    Ok(SpeechRequest {
        text,
        voice,
        format: AudioFormat::Wav,
        delivery: Delivery::Audio,
        speed: 1.0,
        // MaryTTS's INPUT_TYPE is TEXT only.
        ssml: false,
        speaker: None,
        language: None,
    })
}

/// The default voice if it speaks `locale` (`en_US`, `en-us`: case and the
/// separator ignored), else the first served voice that does.
fn voice_for_locale(st: &AppState, locale: &str) -> Option<String> {
    let norm = |s: &str| s.replace('-', "_").to_ascii_lowercase();
    let want = norm(locale);
    let speaks = |name: &str| {
        st.pool
            .voices
            .get(name)
            .is_some_and(|v| norm(&v.language) == want)
    };
    if speaks(&st.default_voice) {
        return Some(st.default_voice.clone());
    }
    st.pool.voices.keys().find(|name| speaks(name)).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_are_ignored_and_unknown_parameters_refused() {
        let mut p = Params::default();
        p.absorb(vec![
            ("INPUT_TEXT".into(), "a".into()),
            ("effect_Volume_selected".into(), "on".into()),
            ("INPUT_TEXT".into(), "b".into()),
        ])
        .unwrap();
        assert_eq!(p.input_text.as_deref(), Some("b"));
        let e = p
            .absorb(vec![("FILE\n".into(), "/etc/passwd".into())])
            .unwrap_err();
        assert!(e.contains("FILE\\n"), "{e}");
    }
}
