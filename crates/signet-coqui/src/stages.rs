//! Coqui's two-stage voices: a spectrogram model (Glow-TTS or Tacotron2-DDC) and a
//! separately trained mel vocoder (HiFi-GAN), each in its own signed bundle.
//!
//! The tensors are mapped by the model crates' own mapping functions
//! (`signet_acoustic::glow_tts::map_glow_tts`, `signet_acoustic::tacotron2::map_tacotron2`,
//! `signet_vocoder::coqui::map_hifigan`), which read
//! the checkpoint as data and check every name and shape; this module adds what the bundles
//! carry around the tensors: each stage's spectrogram settings ([`MelSpec`]: frame hop and
//! Coqui's normalization, as `signet_audio::MelNormalization` reads it), and, in the voice, the
//! vocoder it was imported against ([`VocoderRef`]: name and manifest SHA-256), after checking
//! that the vocoder takes the spectrograms the model makes.

use serde_json::Value;
use signet_audio::MelNormalization;
use signet_registry::store::Store;
use signet_registry::{MelSpec, VerifiedBundle, VocoderRef, VoiceName};

use crate::weights::Param;
use crate::{CoquiConfig, CoquiError, Mapped};

/// `architecture.kind` of a mel vocoder bundle.
pub const VOCODER_KIND: &str = signet_schema::hifigan::KIND;

/// The spectrogram settings of a Coqui `config.json`: `audio.hop_length` and the
/// normalization (`stats_path` is refused: its file is a numpy pickle Signet does not read).
pub fn mel_spec(config: &Value) -> Result<(MelSpec, MelNormalization), CoquiError> {
    let audio = config
        .get("audio")
        .ok_or_else(|| CoquiError::config("`audio` is missing"))?;
    let normalization = MelNormalization::from_coqui_audio(audio, None)?;
    let hop = audio
        .get("hop_length")
        .and_then(Value::as_u64)
        .and_then(|h| u32::try_from(h).ok())
        .filter(|h| (1..=signet_registry::MAX_HOP_LENGTH).contains(h))
        .ok_or_else(|| {
            CoquiError::config(format!(
                "`audio.hop_length` is {}, not a frame hop in samples",
                audio.get("hop_length").unwrap_or(&Value::Null)
            ))
        })?;
    let table = toml::Table::try_from(&normalization).map_err(|e| CoquiError::BadConfig {
        reason: format!("audio settings: {e}"),
    })?;
    Ok((
        MelSpec {
            hop_length: hop,
            normalization: table,
        },
        normalization,
    ))
}

/// A Glow-TTS checkpoint mapped by signet-acoustic, with its spectrogram settings; the
/// embedding must have one row per symbol of the text settings.
pub(crate) fn map_glow_tts(
    state: &[(&str, &signet_checkpoint::Tensor)],
    cfg: &CoquiConfig,
    n_symbols: usize,
) -> Result<(Mapped, MelSpec), CoquiError> {
    let json = cfg.to_json();
    let mapped = signet_acoustic::glow_tts::map_glow_tts(state, &json)?;
    let c = &mapped.config;
    let shape = Spectrogram {
        kind: signet_acoustic::glow_tts::KIND,
        embedding: "encoder.emb.weight",
        num_chars: c.num_chars,
        width: c.hidden_channels_enc,
        out_channels: c.out_channels,
    };
    let config = toml::Table::try_from(c).map_err(|e| CoquiError::BadConfig {
        reason: format!("Glow-TTS settings: {e}"),
    })?;
    shape.finish(&json, n_symbols, config, mapped.tensors, 0)
}

/// A Tacotron2 (double decoder consistency) checkpoint mapped by signet-acoustic, with its
/// spectrogram settings; the embedding must have one row per symbol of the text settings.
/// DDC's coarse decoder and the batch norms' counters are recognised and left out (counted in
/// [`Mapped::dropped`]).
pub(crate) fn map_tacotron2(
    state: &[(&str, &signet_checkpoint::Tensor)],
    cfg: &CoquiConfig,
    n_symbols: usize,
) -> Result<(Mapped, MelSpec), CoquiError> {
    let json = cfg.to_json();
    let mapped = signet_acoustic::tacotron2::map_tacotron2(state, &json)?;
    let c = &mapped.config;
    let shape = Spectrogram {
        kind: signet_acoustic::tacotron2::KIND,
        embedding: "embedding.weight",
        num_chars: c.num_chars,
        width: c.encoder_in_features,
        out_channels: c.out_channels,
    };
    let config = toml::Table::try_from(c).map_err(|e| CoquiError::BadConfig {
        reason: format!("Tacotron2 settings: {e}"),
    })?;
    let dropped = mapped.unused.len();
    shape.finish(&json, n_symbols, config, mapped.tensors, dropped)
}

/// What the importer checks of any spectrogram model a model crate mapped.
struct Spectrogram {
    kind: &'static str,
    /// The symbol embedding's tensor name.
    embedding: &'static str,
    num_chars: usize,
    /// The embedding's width.
    width: usize,
    /// Mel bins the model makes.
    out_channels: usize,
}

impl Spectrogram {
    /// Checks that the embedding has a row per symbol of the text settings and that the
    /// config's mel bins are the model's, and gives the bundle's contents and mel settings.
    fn finish(
        self,
        json: &Value,
        n_symbols: usize,
        config: toml::Table,
        tensors: Vec<(String, signet_checkpoint::Param)>,
        dropped: usize,
    ) -> Result<(Mapped, MelSpec), CoquiError> {
        if self.num_chars != n_symbols {
            return Err(CoquiError::ShapeMismatch {
                tensor: self.embedding.into(),
                expected: vec![n_symbols, self.width],
                found: vec![self.num_chars, self.width],
            });
        }
        let (spec, norm) = mel_spec(json)?;
        if norm.num_mels != self.out_channels {
            return Err(CoquiError::config(format!(
                "`audio.num_mels` {} differs from the model's out_channels {}",
                norm.num_mels, self.out_channels
            )));
        }
        Ok((
            Mapped {
                kind: self.kind,
                config,
                tensors: params(tensors),
                dropped,
            },
            spec,
        ))
    }
}

/// A model crate's mapped tensors as this crate's [`Param`]s.
fn params(tensors: Vec<(String, signet_checkpoint::Param)>) -> Vec<(String, Param)> {
    tensors
        .into_iter()
        .map(|(name, p)| {
            (
                name,
                Param {
                    shape: p.shape,
                    values: p.data,
                },
            )
        })
        .collect()
}

/// The installed vocoder `name` of `store`, verified against the store's trust store (the
/// same keys as voices). Refused: a name that is not a bundle name, a vocoder that is not
/// installed, one that does not verify.
pub fn installed_vocoder(store: &Store, name: &str) -> Result<VerifiedBundle, CoquiError> {
    let name = VoiceName::new(name).map_err(|_| CoquiError::BadName {
        name: name.to_owned(),
        reason: "a vocoder name is 1 to 128 of A-Z a-z 0-9 . _ - and does not start with '.'",
    })?;
    let trust = store.trust_store()?;
    signet_registry::verify_installed(&store.vocoders_dir(), &name, &trust).map_err(|e| match e {
        signet_registry::RegistryError::NotInstalled { .. } => CoquiError::VocoderNotInstalled {
            name: name.to_string(),
            dir: store.vocoders_dir(),
        },
        other => CoquiError::VocoderUnverified {
            name: name.to_string(),
            source: other,
        },
    })
}

/// Checks that `vocoder` takes the spectrograms a model with `mel` settings at `sample_rate`
/// makes (architecture, mel bins, sample rate, frame hop), and gives the pin the voice's
/// manifest carries.
pub fn pin_vocoder(
    vocoder: &VerifiedBundle,
    mel: &MelSpec,
    sample_rate: u32,
) -> Result<VocoderRef, CoquiError> {
    let m = vocoder.manifest();
    let mismatch = |what, vocoder_value: String, model_value: String| {
        Err(CoquiError::VocoderMismatch {
            vocoder: m.name.to_string(),
            what,
            vocoder_value,
            model_value,
        })
    };
    let Some(vmel) = m
        .mel
        .as_ref()
        .filter(|_| m.architecture.kind == VOCODER_KIND)
    else {
        return mismatch(
            "architecture",
            format!("{:?}", m.architecture.kind),
            format!("a mel vocoder ({VOCODER_KIND:?})"),
        );
    };
    let bins = |t: &toml::Table| t.get("num_mels").and_then(toml::Value::as_integer);
    if bins(&vmel.normalization) != bins(&mel.normalization) {
        return mismatch(
            "mel bins",
            format!("{:?}", bins(&vmel.normalization)),
            format!("{:?}", bins(&mel.normalization)),
        );
    }
    if m.voice.sample_rate != sample_rate {
        return mismatch(
            "sample rate",
            format!("{} Hz", m.voice.sample_rate),
            format!("{sample_rate} Hz"),
        );
    }
    if vmel.hop_length != mel.hop_length {
        return mismatch(
            "hop length",
            vmel.hop_length.to_string(),
            mel.hop_length.to_string(),
        );
    }
    Ok(VocoderRef {
        name: m.name.clone(),
        manifest_sha256: vocoder.manifest_sha256().to_owned(),
    })
}
