//! The header of a WAV stream whose length is not known in advance.

/// 44-byte header of a mono 16-bit PCM WAV stream; the RIFF and data sizes
/// are set to their maximum, as streaming WAV writers do, and readers that
/// stream treat the data as running to the end of the response.
pub(crate) fn streaming_header(sample_rate: u32) -> [u8; 44] {
    let mut h = [0u8; 44];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(dst) = h.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    };
    put(0, b"RIFF");
    put(4, &u32::MAX.to_le_bytes());
    put(8, b"WAVE");
    put(12, b"fmt ");
    put(16, &16u32.to_le_bytes());
    put(20, &1u16.to_le_bytes()); // PCM
    put(22, &1u16.to_le_bytes()); // mono
    put(24, &sample_rate.to_le_bytes());
    put(28, &sample_rate.saturating_mul(2).to_le_bytes()); // bytes per second
    put(32, &2u16.to_le_bytes()); // block align
    put(34, &16u16.to_le_bytes()); // bits per sample
    put(36, b"data");
    put(40, &(u32::MAX - 36).to_le_bytes());
    h
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    #[test]
    fn header_fields() {
        let h = super::streaming_header(22050);
        assert_eq!(&h[0..4], b"RIFF");
        assert_eq!(&h[36..40], b"data");
        assert_eq!(u32::from_le_bytes([h[24], h[25], h[26], h[27]]), 22050);
    }
}
