//! [`Synthesizer`]: one verified voice, text in, audio out.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use signet_acoustic::{Effective, Precision};
use signet_audio::{Audio, AudioOptions, Provenance, SampleFormat};
use signet_registry::{
    lexicon_language_fits, verify_installed, CoquiText, LexiconFormat, Manifest, VerifiedBundle,
    VoiceName,
};
use signet_text::{
    CoquiTokenizer, EspeakConfig, EspeakPhonemizer, Limits, Normalization, PhonemeBudget,
    PhonemeIdMap, PreparedText, SandboxReport, Segment, SegmentSentences, Timings,
};

use signet_text::ssml::{Step, Style};
use signet_text::{Lexicon, LexiconIssue, Lexicons, PreparedSsml, SsmlVoice};

use crate::model::Model;
use crate::options::{check_scales, check_speed, Language, Settings, SpeakOptions, Speaker};
use crate::store::Store;
use crate::stream::{Pending, Source, SpeechStream, SynthRef, Utterance};
use crate::watermark::{KeyId, Payload, Watermark, WatermarkKey};
use crate::Error;

pub use signet_acoustic::Scales;

/// Audio plus what the frontend had to do to the text to speak it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Speech {
    /// The samples and their rate.
    pub audio: Audio,
    /// Word and phoneme times, in samples of `audio`.
    pub timings: Timings,
    /// Stripped characters, dropped symbols and the like, in input order.
    pub diagnostics: Vec<signet_text::Diagnostic>,
    /// Who made this audio: written into every WAV file by [`Speech::to_wav`].
    pub provenance: Provenance,
}

impl Speech {
    /// The audio as a complete WAV file carrying the provenance metadata.
    pub fn to_wav(&self, format: SampleFormat) -> Result<Vec<u8>, Error> {
        Ok(self.audio.to_wav(format, &self.provenance)?)
    }

    /// The audio as a complete WAV file carrying the provenance metadata and
    /// content credentials signed by `key` (see the [`credentials`](crate::credentials)
    /// module), stating the current time.
    pub fn to_signed_wav(
        &self,
        format: SampleFormat,
        key: &signet_sign::SecretKey,
    ) -> Result<Vec<u8>, Error> {
        let signer = signet_audio::CredentialSigner::new(key);
        Ok(self
            .audio
            .to_signed_wav(format, &self.provenance, &signer)?)
    }
}

/// What `signet voices list` shows about an installed voice.
#[derive(Debug, Clone)]
pub struct VoiceSummary {
    /// Store name.
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// Quality label, e.g. `medium`.
    pub quality: Option<String>,
    /// Samples per second.
    pub sample_rate: u32,
    /// Number of speakers.
    pub num_speakers: u32,
    /// The voice's licence as its signed manifest states it (SPDX id or text);
    /// empty when the bundle did not verify.
    pub license: String,
    /// Bytes on disk (manifest plus files).
    pub size: u64,
    /// Whether the bundle passed verification, and why not.
    pub verified: Result<(), String>,
}

/// Builds a [`Synthesizer`]; every setting has a safe default.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SynthesizerBuilder {
    voice: Option<String>,
    home: Option<PathBuf>,
    threads: Option<usize>,
    options: SpeakOptions,
    espeak: Option<EspeakConfig>,
    limits: Option<Limits>,
    precision: Precision,
    watermark: Watermark,
    lexicons: Lexicons,
}

/// The default voice, installed by `cargo xtask setup`.
pub const DEFAULT_VOICE: &str = "en_US-joe-medium";

impl SynthesizerBuilder {
    /// Adds a pronunciation lexicon, below those added before it (the first
    /// that has a word wins). These are the user's lexicons: they come before
    /// the voice's own, which [`build`](Self::build) adds last, below every
    /// one of them, when the voice's bundle carries one. See
    /// [`signet_text::lexicon`] for the rules.
    pub fn lexicon(mut self, lexicon: Lexicon) -> Self {
        self.lexicons.push(lexicon);
        self
    }

    /// Voice name in the store (default: `en_US-joe-medium`).
    pub fn voice(mut self, name: impl Into<String>) -> Self {
        self.voice = Some(name.into());
        self
    }

    /// Signet home folder holding the store (default: see [`crate::store::default_home`]).
    pub fn home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    /// Threads libtorch may use inside one synthesis (default: one per
    /// physical core, at most 8, when the process started with
    /// `OMP_WAIT_POLICY=passive`, else 1; see
    /// [`default_threads`](crate::default_threads)).
    ///
    /// This is process-wide: libtorch has one setting per process, and each
    /// thread that synthesizes uses that many. The default suits one synthesis
    /// at a time on an idle machine. When several run at once (a server's
    /// workers, parallel jobs), give each `cores / concurrent syntheses`: more
    /// threads than cores in total makes everyone slower, and measured here
    /// libtorch's intra-op threading degrades badly on busy cores (1.6 to 2
    /// times slower with 2 threads than with 1 on a loaded 2-core machine).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// Number format of the decoder's heavy convolutions (default:
    /// [`Precision::Auto`], which is fp32; bf16 is opt-in).
    /// A request the CPU cannot serve falls back to fp32;
    /// [`Synthesizer::precision_note`] says so.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Variance of the latent noise (voice default when unset; 0 = deterministic).
    pub fn noise_scale(mut self, x: f32) -> Self {
        self.options.noise_scale = Some(x);
        self
    }

    /// Speaking time stretch: 2.0 is twice as slow (voice default when unset).
    pub fn length_scale(mut self, x: f32) -> Self {
        self.options.length_scale = Some(x);
        self
    }

    /// Variance of the phoneme durations (voice default when unset).
    pub fn noise_w(mut self, x: f32) -> Self {
        self.options.noise_w = Some(x);
        self
    }

    /// Speaker by id, for multi-speaker voices.
    pub fn speaker_id(mut self, id: i64) -> Self {
        self.options.speaker = Some(Speaker::Id(id));
        self
    }

    /// Language by id, for multilingual voices (default: language 0).
    pub fn language_id(mut self, id: i64) -> Self {
        self.options.language = Some(Language::Id(id));
        self
    }

    /// Language by name, as the voice's language map lists it.
    pub fn language_name(mut self, name: impl Into<String>) -> Self {
        self.options.language = Some(Language::Name(name.into()));
        self
    }

    /// Speaker by name, as the voice's speaker map lists it.
    pub fn speaker_name(mut self, name: impl Into<String>) -> Self {
        self.options.speaker = Some(Speaker::Name(name.into()));
        self
    }

    /// Limits on the work one request may cause: input size, phonemes per sentence and
    /// per request, seconds of audio (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// What happens to the audio after synthesis (output rate, volume,
    /// silence trimming, pause between sentences); see [`AudioOptions`].
    pub fn audio_options(mut self, options: AudioOptions) -> Self {
        self.options.audio = Some(options);
        self
    }

    /// Default settings of every request, as [`SpeakOptions`] (what is set
    /// there replaces what the methods above set).
    pub fn speak_options(mut self, options: SpeakOptions) -> Self {
        self.options = options.over(&self.options);
        self
    }

    /// Whether and with which key the speech is watermarked (default:
    /// [`Watermark::HomeKey`], the home's key, made on first use). See
    /// [`crate::watermark`].
    pub fn watermark(mut self, watermark: Watermark) -> Self {
        self.watermark = watermark;
        self
    }

    /// The watermark's 16 bits of caller data for every request that does
    /// not set its own (default 0).
    pub fn watermark_payload(mut self, payload: u16) -> Self {
        self.options.watermark_payload = Some(payload);
        self
    }

    /// Where the espeak-ng helper, library and data are (default: the helper
    /// next to the executable, the rest under `<home>/espeak-ng/`).
    pub fn espeak(mut self, config: EspeakConfig) -> Self {
        self.espeak = Some(config);
        self
    }

    /// Verifies the voice bundle and builds the model from its verified bytes.
    /// A lexicon the bundle carries is read from the same verified bytes, by
    /// its declared format, and placed below the builder's lexicons: caller's
    /// lexicons (and the CLI's `<home>/lexicon.toml`, which it adds after
    /// them) > the voice's lexicon > espeak-ng's own reading.
    ///
    /// # Errors
    /// Besides verification and model errors, [`Error::VoiceLexicon`] when the
    /// bundle's lexicon does not read or is for another language.
    pub fn build(self) -> Result<Synthesizer, Error> {
        let store = match self.home {
            Some(h) => Store::new(h),
            None => Store::from_env()?,
        };
        let name = VoiceName::new(self.voice.as_deref().unwrap_or(DEFAULT_VOICE))?;
        let dir = store.voice_dir(&name);
        if !dir.is_dir() {
            return Err(Error::VoiceNotFound {
                name: name.to_string(),
                store: store.voices_dir(),
            });
        }
        {
            let n = self
                .threads
                .unwrap_or_else(signet_acoustic::default_threads);
            if n == 0 || n > 1024 {
                return Err(Error::InvalidSetting {
                    setting: "threads",
                    value: n.to_string(),
                    reason: "must be between 1 and 1024",
                });
            }
            signet_acoustic::set_num_threads(n);
        }
        let trust = store.trust_store()?;
        let bundle = verify_installed(&store.voices_dir(), &name, &trust)?;
        let watermark_key = match self.watermark {
            Watermark::HomeKey => Some(crate::watermark::home_key(&store)?),
            Watermark::Key(key) => Some(key),
            Watermark::Off => None,
        };
        let manifest = bundle.manifest().clone();
        let coqui = match &manifest.phonemes.coqui {
            Some(text) => {
                Some(
                    coqui_tokenizer(text).map_err(|reason| Error::CoquiTextUnsupported {
                        voice: name.as_str().to_owned(),
                        reason,
                    })?,
                )
            }
            None => None,
        };
        let mut lexicons = self.lexicons;
        if let Some(lexicon) = voice_lexicon(&bundle)? {
            lexicons.push(lexicon);
        }
        let (model, precision_note) = Model::load(&bundle, &store, &trust, self.precision)?;
        let d = &manifest.inference;
        let voice_scales = Scales {
            noise_scale: d.noise_scale,
            length_scale: d.length_scale,
            noise_w: d.noise_w,
        };
        let defaults = resolve(&self.options, &voice_scales, &manifest)?;
        // A Coqui voice's table is its tokenizer's; Piper's conventions (`^ _ $`) do not apply.
        let id_map = match coqui {
            Some(_) => None,
            None => Some(PhonemeIdMap::new(manifest.phonemes.id_map.clone())?),
        };
        let espeak = match self.espeak {
            Some(c) => c,
            None => EspeakConfig::from_env(&store.espeak_dir()),
        };
        let provenance = Provenance::new(
            "Signet",
            env!("CARGO_PKG_VERSION"),
            name.as_str(),
            bundle.manifest_sha256(),
        )?;
        Ok(Synthesizer {
            defaults,
            provenance,
            limits: self.limits.unwrap_or_default(),
            id_map,
            coqui,
            espeak,
            phonemizer: Mutex::new(None),
            name: name.to_string(),
            manifest_sha256: bundle.manifest_sha256().to_owned(),
            manifest,
            model,
            precision_note,
            watermark_key,
            lexicons,
        })
    }
}

/// The lexicon a verified bundle carries, read from its verified bytes with the
/// text frontend's reader for the declared format (the same limits as any
/// lexicon), and checked against the voice's language.
/// The Coqui tokenizer of a voice's recorded text settings, or why there is none.
fn coqui_tokenizer(text: &CoquiText) -> Result<CoquiTokenizer, String> {
    if text.use_phonemes && text.phonemizer.as_deref() != Some("espeak") {
        return Err(format!(
            "phonemizer {:?} (Signet phonemizes with espeak-ng only)",
            text.phonemizer.as_deref().unwrap_or("none")
        ));
    }
    CoquiTokenizer::new(&signet_coqui::tokenizer_settings(text)).map_err(|e| match e {
        signet_text::TextError::CoquiSettingUnsupported {
            setting,
            value,
            reason,
        } => format!("{setting} = {value} ({reason})"),
        other => other.to_string(),
    })
}

/// The lexicon a verified bundle carries, read from its verified bytes with the
/// text frontend's reader for the declared format (the same limits as any
/// lexicon), and checked against the voice's language.
fn voice_lexicon(bundle: &VerifiedBundle) -> Result<Option<Lexicon>, Error> {
    let Some((entry, bytes)) = bundle.lexicon() else {
        return Ok(None);
    };
    let manifest = bundle.manifest();
    let refuse = |reason: String| Error::VoiceLexicon {
        voice: manifest.name.to_string(),
        file: entry.file.clone(),
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| refuse(format!("is not UTF-8 ({e})")))?;
    let source_name = format!("{}/{}", manifest.name, entry.file);
    let parsed = match entry.format {
        LexiconFormat::Toml => Lexicon::from_toml(&source_name, text),
        LexiconFormat::Pls => Lexicon::from_pls(&source_name, text),
        other => {
            return Err(refuse(format!(
                "has format {:?}, which this version does not read",
                other.as_str()
            )))
        }
    };
    let lexicon = parsed.map_err(|e| match e {
        signet_text::TextError::LexiconInvalid { message, .. } => refuse(format!(
            "does not read as {}: {message}",
            entry.format.as_str()
        )),
        other => Error::Text(other),
    })?;
    if let Some(language) = lexicon.language() {
        if !lexicon_language_fits(language, &manifest.voice.language) {
            return Err(refuse(format!(
                "is written for {language:?}, but the voice speaks {:?}",
                manifest.voice.language
            )));
        }
    }
    Ok(Some(lexicon))
}

/// `options` resolved against a voice: scales over `base`, `speed` applied,
/// the speaker looked up, everything checked.
fn resolve(options: &SpeakOptions, base: &Scales, manifest: &Manifest) -> Result<Settings, Error> {
    let speed = options.speed.unwrap_or(1.0);
    check_speed(speed)?;
    let scales = Scales {
        noise_scale: options.noise_scale.unwrap_or(base.noise_scale),
        length_scale: options.length_scale.unwrap_or(base.length_scale) / speed,
        noise_w: options.noise_w.unwrap_or(base.noise_w),
    };
    check_scales(&scales)?;
    let audio = options.audio.clone().unwrap_or_default();
    audio.check()?;
    let speaker = match &options.speaker {
        None => None,
        Some(Speaker::Id(id)) => Some(*id),
        Some(Speaker::Name(n)) => match manifest.voice.speaker_id_map.get(n) {
            Some(&id) => Some(id),
            None => return Err(Error::UnknownSpeaker { name: n.clone() }),
        },
    };
    let languages = &manifest.voice.language_id_map;
    let language = match &options.language {
        None => None,
        Some(Language::Id(id)) => Some(*id),
        Some(Language::Name(n)) => match languages.get(n) {
            Some(&id) => Some(id),
            None => {
                let known = if languages.is_empty() {
                    "none".to_owned()
                } else {
                    languages.keys().cloned().collect::<Vec<_>>().join(", ")
                };
                return Err(Error::UnknownLanguage {
                    name: n.clone(),
                    known,
                });
            }
        },
    };
    Ok(Settings {
        scales,
        speaker,
        language,
        audio,
        payload: Payload(options.watermark_payload.unwrap_or(0)),
    })
}

/// The speaker and language the model is conditioned on.
fn conditioning(settings: &Settings) -> signet_acoustic::Conditioning {
    signet_acoustic::Conditioning {
        speaker: settings.speaker,
        language: settings.language,
    }
}

/// One loaded, verified voice.
///
/// Built with [`Synthesizer::builder`]. A synthesizer is `Send + Sync`; calls
/// may come from several threads.
pub struct Synthesizer {
    name: String,
    manifest_sha256: String,
    manifest: Manifest,
    /// The model: one stage, or a spectrogram model and its pinned vocoder.
    model: Model,
    /// The builder's settings, resolved: what a request that sets nothing
    /// runs with.
    defaults: Settings,
    provenance: Provenance,
    /// Piper's phoneme id map; `None` for a Coqui voice.
    id_map: Option<PhonemeIdMap>,
    /// Coqui's tokenizer, for a voice imported from Coqui TTS.
    coqui: Option<CoquiTokenizer>,
    limits: Limits,
    espeak: EspeakConfig,
    /// Started on first use; restarted by the client when it fails.
    phonemizer: Mutex<Option<EspeakPhonemizer>>,
    /// Why the decoder's precision is not what was asked, if it is not.
    precision_note: Option<String>,
    /// The key that marks the speech; `None` when the watermark is off.
    watermark_key: Option<WatermarkKey>,
    /// Pronunciation lexicons, in priority order.
    lexicons: Lexicons,
}

impl std::fmt::Debug for Synthesizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Synthesizer")
            .field("voice", &self.name)
            .field("manifest_sha256", &self.manifest_sha256)
            .finish_non_exhaustive()
    }
}

impl Synthesizer {
    /// Starts a builder.
    pub fn builder() -> SynthesizerBuilder {
        SynthesizerBuilder::default()
    }

    /// The voice's store name.
    pub fn voice(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the verified manifest this voice was loaded from.
    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }

    /// The verified manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Samples per second of the audio this voice produces.
    pub fn sample_rate(&self) -> u32 {
        self.manifest.voice.sample_rate
    }

    /// The scales in use (the builder's, or the voice's).
    pub fn scales(&self) -> &Scales {
        &self.defaults.scales
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Provenance written into the WAV files of this voice's speech.
    pub fn provenance(&self) -> &Provenance {
        &self.provenance
    }

    /// The audio options in use (set with [`SynthesizerBuilder::audio_options`]).
    pub fn audio_options(&self) -> &AudioOptions {
        &self.defaults.audio
    }

    /// `options` over this synthesizer's defaults, checked.
    fn settings(&self, options: &SpeakOptions) -> Result<Settings, Error> {
        if *options == SpeakOptions::default() {
            return Ok(self.defaults.clone());
        }
        let base = SpeakOptions {
            speaker: self.defaults.speaker.map(Speaker::Id),
            language: self.defaults.language.map(Language::Id),
            audio: Some(self.defaults.audio.clone()),
            watermark_payload: Some(self.defaults.payload.0),
            ..SpeakOptions::default()
        };
        resolve(&options.over(&base), &self.defaults.scales, &self.manifest)
    }

    /// Speaks text: each sentence is phonemized, mapped to ids and synthesized
    /// on its own, and the sentences' audio is joined. This is
    /// [`speak_stream`](Self::speak_stream) collected: the samples are the
    /// same.
    ///
    /// Odd text is not an error: what the frontend stripped, rewrote or dropped
    /// comes back in [`Speech::diagnostics`]. Text with nothing to pronounce is
    /// [`signet_text::TextError::NothingToSpeak`]; a breached limit is
    /// [`signet_text::TextError::LimitExceeded`].
    pub fn speak(&self, text: &str) -> Result<Speech, Error> {
        self.collect(self.speak_stream(text)?)
    }

    /// [`speak`](Self::speak) with other settings for this call only.
    pub fn speak_with(&self, text: &str, options: &SpeakOptions) -> Result<Speech, Error> {
        self.collect(self.speak_stream_with(text, options)?)
    }

    /// Speaks text as a stream of per-sentence [`Utterance`]s, with the
    /// builder's settings. The first stage of the text frontend runs now, so
    /// a bad input fails here, before any audio; each sentence is
    /// synthesized when asked for. See [`SpeechStream`].
    pub fn speak_stream<'a>(&'a self, text: &'a str) -> Result<SpeechStream<'a>, Error> {
        self.speak_stream_with(text, &SpeakOptions::default())
    }

    /// [`speak_stream`](Self::speak_stream) with other settings for this
    /// stream only (checked here, before any work).
    pub fn speak_stream_with<'a>(
        &'a self,
        text: &'a str,
        options: &SpeakOptions,
    ) -> Result<SpeechStream<'a>, Error> {
        let settings = self.settings(options)?;
        let source = self.text_source(Cow::Borrowed(text))?;
        SpeechStream::new(SynthRef::Borrowed(self), settings, source)
    }

    /// A stream that owns its text and shares the synthesizer, for moving
    /// into another thread or task.
    pub fn speak_stream_shared(
        self: &Arc<Self>,
        text: String,
        options: &SpeakOptions,
    ) -> Result<SpeechStream<'static>, Error> {
        let settings = self.settings(options)?;
        let source = self.text_source(Cow::Owned(text))?;
        SpeechStream::new(SynthRef::Shared(Arc::clone(self)), settings, source)
    }

    /// The callback form of [`speak_stream`](Self::speak_stream): `f` gets
    /// each utterance as soon as it is ready; an error from `f` stops
    /// synthesis and is returned.
    pub fn speak_each<E, F>(&self, text: &str, mut f: F) -> Result<(), E>
    where
        E: From<Error>,
        F: FnMut(Utterance) -> Result<(), E>,
    {
        for utterance in self.speak_stream(text)? {
            f(utterance?)?;
        }
        Ok(())
    }

    fn text_source<'a>(&self, text: Cow<'a, str>) -> Result<Source<'a>, Error> {
        let prepared = self.prepare_text(&text)?;
        Ok(Source::Text {
            text,
            steps: prepared
                .segments
                .into_iter()
                .map(|segment| Step::Speak {
                    segment,
                    style: Style::default(),
                    marks: Vec::new(),
                })
                .collect(),
            diagnostics: prepared.diagnostics,
        })
    }

    fn ssml_source(&self, document: &str) -> Result<Source<'static>, Error> {
        let prepared = self.prepare_ssml(document)?;
        Ok(Source::Text {
            text: Cow::Owned(prepared.text),
            steps: prepared.steps,
            diagnostics: prepared.diagnostics,
        })
    }

    /// What a check of a lexicon against this voice finds: duplicate words,
    /// and IPA symbols the voice's phoneme map lacks (`signet lexicon check`).
    pub fn check_lexicon(&self, lexicon: &Lexicon) -> Vec<LexiconIssue> {
        lexicon.check(self.id_map.as_ref())
    }

    /// Reads an SSML document for this voice (the SSML form of
    /// [`prepare_text`](Self::prepare_text)): see [`signet_text::ssml`] for
    /// what is read, approximated and refused.
    pub fn prepare_ssml(&self, document: &str) -> Result<PreparedSsml, Error> {
        Ok(signet_text::prepare_ssml(
            document,
            SsmlVoice {
                name: self.voice(),
                language: self.espeak_voice(),
                normalization: self.normalization(),
                lexicons: &self.lexicons,
            },
            &self.limits,
        )?)
    }

    /// Speaks an SSML document (`<speak>...</speak>`): breaks are exact
    /// silences, prosody rate and volume change the length scale and the
    /// gain, `<mark>`s come back in [`Speech::timings`] (`marks`). Word
    /// ranges in the timings are byte ranges of the document's spoken text
    /// ([`signet_text::PreparedSsml::text`]), not of the markup. See
    /// [`signet_text::ssml`] for the elements.
    pub fn speak_ssml(&self, document: &str) -> Result<Speech, Error> {
        self.collect(self.speak_ssml_stream_with(document, &SpeakOptions::default())?)
    }

    /// [`speak_ssml`](Self::speak_ssml) with other settings for this call.
    pub fn speak_ssml_with(&self, document: &str, options: &SpeakOptions) -> Result<Speech, Error> {
        self.collect(self.speak_ssml_stream_with(document, options)?)
    }

    /// [`speak_ssml`](Self::speak_ssml) as a stream: the document is read
    /// now (a bad document fails here), each sentence and break is one
    /// [`Utterance`].
    pub fn speak_ssml_stream(&self, document: &str) -> Result<SpeechStream<'_>, Error> {
        self.speak_ssml_stream_with(document, &SpeakOptions::default())
    }

    /// [`speak_ssml_stream`](Self::speak_ssml_stream) with other settings.
    pub fn speak_ssml_stream_with(
        &self,
        document: &str,
        options: &SpeakOptions,
    ) -> Result<SpeechStream<'_>, Error> {
        let settings = self.settings(options)?;
        let source = self.ssml_source(document)?;
        SpeechStream::new(SynthRef::Borrowed(self), settings, source)
    }

    /// [`speak_ssml_stream`](Self::speak_ssml_stream) sharing the
    /// synthesizer, for moving into another thread or task.
    pub fn speak_ssml_stream_shared(
        self: &Arc<Self>,
        document: &str,
        options: &SpeakOptions,
    ) -> Result<SpeechStream<'static>, Error> {
        let settings = self.settings(options)?;
        let source = self.ssml_source(document)?;
        SpeechStream::new(SynthRef::Shared(Arc::clone(self)), settings, source)
    }

    fn collect(&self, stream: SpeechStream<'_>) -> Result<Speech, Error> {
        let rate = stream.sample_rate();
        let mut samples = Vec::new();
        let mut timings = Timings::default();
        let mut diagnostics = Vec::new();
        let mut stream = stream;
        for utterance in stream.by_ref() {
            let utterance = utterance?;
            samples.extend_from_slice(utterance.audio.samples());
            timings.extend(utterance.timings);
            diagnostics.extend(utterance.diagnostics);
        }
        diagnostics.extend(stream.take_diagnostics());
        if samples.is_empty() {
            return Err(Error::NothingToSpeak);
        }
        Ok(Speech {
            audio: Audio::new(samples, rate)?,
            timings,
            diagnostics,
            provenance: self.provenance.clone(),
        })
    }

    /// Runs only the text frontend: the sentences, their phonemes and ids, as
    /// [`speak`](Self::speak) would synthesize them, with the diagnostics.
    pub fn phonemize(
        &self,
        text: &str,
    ) -> Result<(Vec<signet_text::Sentence>, Vec<signet_text::Diagnostic>), Error> {
        let prepared = self.prepare_text(text)?;
        let mut diagnostics = prepared.diagnostics;
        let mut budget = PhonemeBudget::new();
        let mut sentences = Vec::new();
        for segment in &prepared.segments {
            let out = self.phonemize_segment(segment)?;
            budget.spend(&out.sentences, &self.limits)?;
            diagnostics.extend(out.diagnostics);
            sentences.extend(out.sentences);
        }
        if !sentences.iter().any(signet_text::Sentence::is_voiced) {
            return Err(Error::NothingToSpeak);
        }
        Ok((sentences, diagnostics))
    }

    /// First stage of the text frontend (pure Rust, no phonemizer): input limits,
    /// sentence and segment splitting, Unicode policy and, for English voices,
    /// normalization. See [`signet_text::prepare`].
    pub fn prepare_text(&self, text: &str) -> Result<PreparedText, Error> {
        Ok(signet_text::prepare_with(
            text,
            self.normalization(),
            &self.limits,
            &self.lexicons,
        )?)
    }

    /// Second stage of the text frontend: phonemizes one segment of
    /// [`prepare_text`](Self::prepare_text) into sentences of ids for this
    /// voice. See [`signet_text::phonemize_segment`].
    pub fn phonemize_segment(&self, segment: &Segment) -> Result<SegmentSentences, Error> {
        if let Some(tokenizer) = &self.coqui {
            if !tokenizer.uses_phonemes() {
                return Ok(signet_text::coqui::phonemize_segment(
                    None,
                    tokenizer,
                    segment,
                    &self.limits,
                )?);
            }
        }
        let mut guard = match self.phonemizer.lock() {
            Ok(g) => g,
            // A panic while holding the lock cannot leave the client in a
            // state worse than a dead helper, which it recovers from.
            Err(poisoned) => poisoned.into_inner(),
        };
        let ph = match guard.as_mut() {
            Some(p) => p,
            None => guard.insert(EspeakPhonemizer::new(self.espeak.clone())?),
        };
        match (&self.coqui, &self.id_map) {
            (Some(tokenizer), _) => Ok(signet_text::coqui::phonemize_segment(
                Some(ph),
                tokenizer,
                segment,
                &self.limits,
            )?),
            (None, Some(id_map)) => Ok(signet_text::phonemize_segment(
                ph,
                self.espeak_voice(),
                id_map,
                segment,
                &self.limits,
            )?),
            (None, None) => Err(Error::NothingToSpeak),
        }
    }

    /// How text is normalized before phonemization: a Coqui voice's cleaners do its
    /// normalization (Signet's English rules would give other words than its training),
    /// other voices get Signet's rules for their language.
    fn normalization(&self) -> Normalization {
        if self.coqui.is_some() {
            Normalization::None
        } else {
            Normalization::for_language(self.espeak_voice())
        }
    }

    /// Which layers of its sandbox the espeak-ng helper runs with, as its hello
    /// reported them; starts the helper when none is running.
    pub fn espeak_sandbox(&self) -> Result<SandboxReport, Error> {
        let mut guard = match self.phonemizer.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let ph = match guard.as_mut() {
            Some(p) => p,
            None => guard.insert(EspeakPhonemizer::new(self.espeak.clone())?),
        };
        Ok(ph.sandbox()?)
    }

    fn espeak_voice(&self) -> &str {
        self.manifest
            .phonemes
            .espeak_voice
            .as_deref()
            .unwrap_or("en-us")
    }

    /// Speaks phoneme ids directly (BOS/EOS included, as the voice's map yields
    /// them), skipping the text frontend: the model's input is exactly
    /// `ids`, and the settings and audio options apply as to text. Timings
    /// hold phonemes only (there are no words without text), labelled with
    /// the symbols the voice's map gives the ids.
    pub fn speak_ids(&self, ids: &[i64]) -> Result<Speech, Error> {
        self.collect(self.speak_ids_stream(ids)?)
    }

    /// [`speak_ids`](Self::speak_ids) as a stream of one utterance.
    pub fn speak_ids_stream(&self, ids: &[i64]) -> Result<SpeechStream<'_>, Error> {
        let labels = match &self.id_map {
            Some(map) => map.label_ids(ids),
            None => self.coqui_labels(ids),
        };
        let pending = vec![Pending::ids(0..0, ids.to_vec(), labels)];
        SpeechStream::new(
            SynthRef::Borrowed(self),
            self.defaults.clone(),
            Source::Sentences(pending),
        )
    }

    /// A Coqui voice's symbols for `ids`, from the table recorded at import (`?` for an id
    /// outside it).
    fn coqui_labels(&self, ids: &[i64]) -> Vec<String> {
        let table = self.manifest.phonemes.coqui.as_ref().map(|c| &c.symbols);
        ids.iter()
            .map(|&id| {
                usize::try_from(id)
                    .ok()
                    .and_then(|i| table.and_then(|t| t.get(i)))
                    .cloned()
                    .unwrap_or_else(|| "?".to_owned())
            })
            .collect()
    }

    /// Runs the model on one sentence's ids: its raw audio at the voice's
    /// rate, and the frames the model gave each id.
    pub(crate) fn infer(
        &self,
        ids: &[i64],
        settings: &Settings,
    ) -> Result<(Audio, Vec<i64>), Error> {
        let (samples, durations) =
            self.model
                .infer(ids, conditioning(settings), &settings.scales)?;
        Ok((Audio::new(samples, self.sample_rate())?, durations))
    }

    /// Starts the model on one sentence's ids: its durations are known, its
    /// raw samples come window by window.
    pub(crate) fn start(
        &self,
        ids: &[i64],
        settings: &Settings,
    ) -> Result<crate::model::Started, Error> {
        self.model
            .start(ids, conditioning(settings), &settings.scales)
    }

    /// The id of the key that watermarks this synthesizer's speech, or
    /// `None` when the watermark is off ([`Watermark::Off`]).
    pub fn watermark_key_id(&self) -> Option<KeyId> {
        self.watermark_key.as_ref().map(WatermarkKey::id)
    }

    /// The key that watermarks the speech, for the stream.
    pub(crate) fn watermark_key(&self) -> Option<&WatermarkKey> {
        self.watermark_key.as_ref()
    }

    /// The precision the decoder runs at.
    pub fn precision(&self) -> Effective {
        self.model.precision()
    }

    /// Why the precision is not the one asked for (e.g. bf16 on a CPU without
    /// native bf16), if it is not.
    pub fn precision_note(&self) -> Option<&str> {
        self.precision_note.as_deref()
    }

    /// Samples per frame of the model's durations.
    pub(crate) fn hop_length(&self) -> usize {
        self.model.hop_length()
    }
}

/// Starts the espeak-ng helper a synthesizer of this store would use (the default
/// configuration: the helper next to the executable, espeak-ng under the store's
/// `espeak-ng/`), reads which sandbox layers it runs with, and stops it. `signet serve`
/// reports this at start.
pub fn probe_espeak_sandbox(store: &Store) -> Result<SandboxReport, Error> {
    let mut phonemizer = EspeakPhonemizer::from_env(&store.espeak_dir())?;
    Ok(phonemizer.sandbox()?)
}

/// Lists the voices in a store, verifying each.
pub fn list_voices(store: &Store) -> Result<Vec<VoiceSummary>, Error> {
    let mut out = Vec::new();
    let trust = store.trust_store()?;
    for name in store.voice_names()? {
        let dir = store.voice_dir(&name);
        let size = dir_size(&dir);
        let summary = match verify_installed(&store.voices_dir(), &name, &trust) {
            Ok(b) => {
                let m = b.manifest();
                VoiceSummary {
                    name: name.to_string(),
                    language: m.voice.language.clone(),
                    quality: m.voice.quality.clone(),
                    sample_rate: m.voice.sample_rate,
                    num_speakers: m.voice.num_speakers,
                    license: m.license.clone(),
                    size,
                    verified: Ok(()),
                }
            }
            Err(e) => VoiceSummary {
                name: name.to_string(),
                language: String::new(),
                quality: None,
                sample_rate: 0,
                num_speakers: 0,
                license: String::new(),
                size,
                verified: Err(e.to_string()),
            },
        };
        out.push(summary);
    }
    Ok(out)
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coqui_text(add_blank: bool, blank: Option<&str>) -> CoquiText {
        CoquiText {
            use_phonemes: false,
            phonemizer: None,
            phoneme_language: None,
            text_cleaner: Some("english_cleaners".to_owned()),
            add_blank,
            enable_eos_bos: false,
            pad: Some("_".to_owned()),
            blank: blank.map(str::to_owned),
            bos: None,
            eos: None,
            symbols: ["_", " ", "a", "b", "<BLNK>"].map(String::from).to_vec(),
        }
    }

    #[test]
    fn coqui_text_settings_that_cannot_be_honoured_are_refused_at_load() {
        assert!(coqui_tokenizer(&coqui_text(true, Some("<BLNK>"))).is_ok());
        let why = coqui_tokenizer(&coqui_text(true, None))
            .err()
            .unwrap_or_default();
        assert!(why.contains("add_blank"), "{why}");
        let mut gruut = coqui_text(false, None);
        gruut.use_phonemes = true;
        gruut.phonemizer = Some("gruut".to_owned());
        gruut.phoneme_language = Some("en-us".to_owned());
        let why = coqui_tokenizer(&gruut).err().unwrap_or_default();
        assert!(why.contains("gruut"), "{why}");
        let mut cleaner = coqui_text(false, None);
        cleaner.text_cleaner = Some("basic_german_cleaners".to_owned());
        let why = coqui_tokenizer(&cleaner).err().unwrap_or_default();
        assert!(why.contains("basic_german_cleaners"), "{why}");
    }

    #[test]
    fn synthesizers_are_shared_between_threads() {
        fn is_send_sync<T: Send + Sync>() {}
        is_send_sync::<Synthesizer>();
        is_send_sync::<Speech>();
    }
}
