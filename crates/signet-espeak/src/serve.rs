//! The request loop: read a request frame, phonemize, write a response frame.
//!
//! It is written against the [`Engine`] and [`Budget`] traits so that it can be tested
//! without espeak. A request that cannot be decoded gets an error response and the loop
//! goes on (the stream is still in step); a frame whose length prefix is over the cap gets
//! an error response and ends the loop, because the stream can no longer be trusted.
#![deny(unsafe_code)]

use std::io::{Read, Write};

use signet_text::protocol::{
    read_frame, write_frame, Clause, ErrorCode, FrameError, Request, Response, ResponseBody,
    Terminator, MAX_REQUEST_BYTES,
};

/// What the loop needs from espeak.
pub trait Engine {
    /// Selects a voice; a message on failure.
    fn set_voice(&mut self, voice: &str) -> Result<(), String>;
    /// The clauses of `text`; a message on failure.
    fn clauses(&mut self, text: &str) -> Result<Vec<Clause>, String>;
}

/// The helper's CPU budget.
pub trait Budget {
    /// Called before each request (moves the per-request CPU limit forward).
    fn before_request(&mut self);
    /// Whether the helper should exit after answering the current request.
    fn exhausted(&mut self) -> bool;
}

/// How the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The client closed stdin.
    EndOfInput,
    /// The CPU budget is spent; the last response said so.
    Retired,
    /// A frame could not be read or written; the process should exit with an error.
    StreamFailed(String),
}

/// Serves requests until the input ends, the budget is spent, or the stream fails.
pub fn serve(
    input: &mut impl Read,
    output: &mut impl Write,
    engine: &mut impl Engine,
    budget: &mut impl Budget,
) -> Outcome {
    loop {
        let frame = match read_frame(input, MAX_REQUEST_BYTES) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Outcome::EndOfInput,
            Err(FrameError::Protocol(e)) => {
                let message = format!("unreadable request frame: {e}");
                let response = Response::new(
                    ResponseBody::Error {
                        code: ErrorCode::MalformedRequest,
                        message: message.clone(),
                    },
                    true,
                );
                let _ = send(output, &response);
                return Outcome::StreamFailed(message);
            }
            Err(e) => return Outcome::StreamFailed(e.to_string()),
        };
        budget.before_request();
        let body = answer(&frame, engine);
        let retiring = budget.exhausted();
        if let Err(e) = send(output, &Response::new(body, retiring)) {
            return Outcome::StreamFailed(e);
        }
        if retiring {
            return Outcome::Retired;
        }
    }
}

fn send(output: &mut impl Write, response: &Response) -> Result<(), String> {
    let payload = match response.encode() {
        Ok(p) => p,
        Err(e) => {
            // Over a cap: say so instead.
            let fallback = Response::new(
                ResponseBody::Error {
                    code: ErrorCode::EspeakFailure,
                    message: format!("response not encodable: {e}"),
                },
                response.retiring,
            );
            fallback.encode().map_err(|e| e.to_string())?
        }
    };
    write_frame(output, &payload).map_err(|e| e.to_string())
}

fn answer(frame: &[u8], engine: &mut impl Engine) -> ResponseBody {
    let request = match Request::decode(frame) {
        Ok(r) => r,
        Err(e) => {
            return ResponseBody::Error {
                code: ErrorCode::MalformedRequest,
                message: e.to_string(),
            }
        }
    };
    if let Err(message) = engine.set_voice(request.voice) {
        return ResponseBody::Error {
            code: ErrorCode::VoiceNotFound,
            message,
        };
    }
    match engine.clauses(request.text) {
        Ok(clauses) => ResponseBody::Clauses(clauses),
        Err(message) => ResponseBody::Error {
            code: ErrorCode::EspeakFailure,
            message,
        },
    }
}

/// Clause terminator codes of `espeak_TextToPhonemesWithTerminator` (low 20 bits), the
/// way piper-tts's bridge reads them: pause length, intonation and clause type bits.
mod clause_code {
    pub const MASK: i32 = 0x000F_FFFF;
    pub const TYPE_SENTENCE: i32 = 0x0008_0000;
    const TYPE_CLAUSE: i32 = 0x0004_0000;
    const INTONATION_FULL_STOP: i32 = 0x0000;
    const INTONATION_COMMA: i32 = 0x1000;
    const INTONATION_QUESTION: i32 = 0x2000;
    const INTONATION_EXCLAMATION: i32 = 0x3000;
    pub const PERIOD: i32 = 40 | INTONATION_FULL_STOP | TYPE_SENTENCE;
    pub const QUESTION: i32 = 40 | INTONATION_QUESTION | TYPE_SENTENCE;
    pub const EXCLAMATION: i32 = 45 | INTONATION_EXCLAMATION | TYPE_SENTENCE;
    pub const COMMA: i32 = 20 | INTONATION_COMMA | TYPE_CLAUSE;
    pub const COLON: i32 = 30 | INTONATION_FULL_STOP | TYPE_CLAUSE;
    pub const SEMICOLON: i32 = 30 | INTONATION_COMMA | TYPE_CLAUSE;
}

/// Reads espeak's terminator code: the punctuation it stands for (only the six exact
/// codes piper-tts recognises) and whether the clause ends a sentence.
#[must_use]
pub fn classify_terminator(code: i32) -> (Option<Terminator>, bool) {
    let code = code & clause_code::MASK;
    let terminator = match code {
        clause_code::PERIOD => Some(Terminator::Period),
        clause_code::QUESTION => Some(Terminator::Question),
        clause_code::EXCLAMATION => Some(Terminator::Exclamation),
        clause_code::COMMA => Some(Terminator::Comma),
        clause_code::COLON => Some(Terminator::Colon),
        clause_code::SEMICOLON => Some(Terminator::Semicolon),
        _ => None,
    };
    (terminator, code & clause_code::TYPE_SENTENCE != 0)
}

/// Moves a clause end forward to a character boundary of `text`, and not before `previous`.
#[must_use]
pub fn snap_offset(text: &str, end: usize, previous: usize) -> usize {
    let mut end = end.max(previous).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_text::protocol::{MAX_REQUEST_BYTES, PROTOCOL_VERSION};

    struct Echo;

    impl Engine for Echo {
        fn set_voice(&mut self, voice: &str) -> Result<(), String> {
            if voice == "en-us" {
                Ok(())
            } else {
                Err(format!("no voice {voice}"))
            }
        }
        fn clauses(&mut self, text: &str) -> Result<Vec<Clause>, String> {
            Ok(vec![Clause::new(
                text.to_uppercase(),
                Some(Terminator::Period),
                true,
                text.len(),
            )])
        }
    }

    struct Requests(usize, usize);

    impl Budget for Requests {
        fn before_request(&mut self) {
            self.0 += 1;
        }
        fn exhausted(&mut self) -> bool {
            self.0 >= self.1
        }
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = write_frame(&mut out, payload);
        out
    }

    fn responses(mut bytes: &[u8]) -> Vec<Response> {
        let mut out = Vec::new();
        while let Ok(Some(f)) = read_frame(&mut bytes, usize::MAX) {
            if let Ok(r) = Response::decode(&f) {
                out.push(r);
            }
        }
        out
    }

    fn request(voice: &str, text: &str) -> Vec<u8> {
        frame(&Request { voice, text }.encode().unwrap_or_default())
    }

    #[test]
    fn answers_requests_in_order_and_survives_bad_ones() {
        let mut input = request("en-us", "hi");
        input.extend(frame(&[PROTOCOL_VERSION, 3, b'a'])); // truncated voice
        input.extend(frame(&[9, 0])); // wrong version
        input.extend(request("xx", "hi"));
        input.extend(request("en-us", "ok"));
        let mut out = Vec::new();
        let outcome = serve(
            &mut input.as_slice(),
            &mut out,
            &mut Echo,
            &mut Requests(0, 99),
        );
        assert_eq!(outcome, Outcome::EndOfInput);
        let rs = responses(&out);
        assert_eq!(rs.len(), 5);
        let codes: Vec<Option<ErrorCode>> = rs
            .iter()
            .map(|r| match &r.body {
                ResponseBody::Error { code, .. } => Some(*code),
                _ => None,
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                None,
                Some(ErrorCode::MalformedRequest),
                Some(ErrorCode::MalformedRequest),
                Some(ErrorCode::VoiceNotFound),
                None
            ]
        );
    }

    #[test]
    fn oversized_frame_ends_the_loop_with_an_error_response() {
        let len = u32::try_from(MAX_REQUEST_BYTES + 1).unwrap_or(u32::MAX);
        let input = len.to_le_bytes();
        let mut out = Vec::new();
        let outcome = serve(
            &mut input.as_slice(),
            &mut out,
            &mut Echo,
            &mut Requests(0, 99),
        );
        assert!(matches!(outcome, Outcome::StreamFailed(_)));
        let rs = responses(&out);
        assert_eq!(rs.len(), 1);
        assert!(rs.first().is_some_and(|r| r.retiring));
    }

    #[test]
    fn spent_budget_retires_after_answering() {
        let mut input = request("en-us", "a");
        input.extend(request("en-us", "b"));
        let mut out = Vec::new();
        let outcome = serve(
            &mut input.as_slice(),
            &mut out,
            &mut Echo,
            &mut Requests(0, 1),
        );
        assert_eq!(outcome, Outcome::Retired);
        let rs = responses(&out);
        assert_eq!(rs.len(), 1);
        assert!(rs.first().is_some_and(|r| r.retiring));
    }

    #[test]
    fn terminator_codes_match_piper() {
        assert_eq!(
            classify_terminator(0x80028),
            (Some(Terminator::Period), true)
        );
        assert_eq!(
            classify_terminator(0x82028),
            (Some(Terminator::Question), true)
        );
        assert_eq!(
            classify_terminator(0x8302d),
            (Some(Terminator::Exclamation), true)
        );
        assert_eq!(
            classify_terminator(0x41014),
            (Some(Terminator::Comma), false)
        );
        assert_eq!(
            classify_terminator(0x4001e),
            (Some(Terminator::Colon), false)
        );
        assert_eq!(
            classify_terminator(0x4101e),
            (Some(Terminator::Semicolon), false)
        );
        // High bits are ignored; other sentence ends have no terminator.
        assert_eq!(
            classify_terminator(0x7f80028),
            (Some(Terminator::Period), true)
        );
        assert_eq!(classify_terminator(0x80000), (None, true));
        assert_eq!(classify_terminator(0), (None, false));
    }

    #[test]
    fn offsets_snap_to_boundaries_in_order() {
        assert_eq!(snap_offset("aé", 2, 0), 3);
        assert_eq!(snap_offset("abc", 1, 2), 2);
        assert_eq!(snap_offset("abc", 9, 0), 3);
    }
}
