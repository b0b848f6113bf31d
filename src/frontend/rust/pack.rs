//! Parses stored: one parse encoded (postcard, compressed with LZ4), and the parse pack that keeps
//! the last full run's parses by content key.
//!
//! Layer invariant: storage of the raw model; reads `raw` only.

use super::raw::ParsedFile;

/// A parse as kept between phases and in the parse pack: postcard, compressed with LZ4. Parses repeat
/// themselves (paths, names, spans); compressed, those of the bench corpus take 5.6 MB instead of 12,
/// and a larger workspace's run slows down less for holding them.
pub(crate) fn encode(parsed: &ParsedFile) -> Vec<u8> {
    postcard::to_stdvec(parsed).map_or_else(|_| Vec::new(), |bytes| lz4_flex::block::compress_prepend_size(&bytes))
}

/// A parse written by [`encode`]; `None` if the bytes are damaged. The length they claim is checked
/// against what LZ4 can expand to before anything is allocated for it.
pub(crate) fn decode(encoded: &[u8]) -> Option<ParsedFile> {
    let (length, compressed) = encoded.split_first_chunk::<4>()?;
    let length = u32::from_le_bytes(*length) as usize;
    if length > compressed.len().saturating_mul(255) + 16 {
        return None;
    }
    let bytes = lz4_flex::block::decompress(compressed, length).ok()?;
    postcard::from_bytes(&bytes).ok()
}

/// The parses of the last full run, by content key, each still encoded: a later full run (after a
/// structural change) decodes those of unchanged files instead of parsing them again.
///
/// Stored as `PACK_MAGIC`, then per parse its key (16 bytes), length (4 bytes, little-endian) and
/// encoding: written as a stream (no second copy of tens of megabytes) and read as one buffer indexed
/// in place.
#[derive(Debug, Default)]
pub(crate) struct ParsePack {
    bytes: Vec<u8>,
    /// Key and where its encoding lies in `bytes`, sorted by key.
    entries: Vec<(u128, std::ops::Range<usize>)>,
}

const PACK_MAGIC: &[u8; 8] = b"ssotpk01";

impl ParsePack {
    /// Reads a pack written by [`ParsePack::write`]; an empty pack if it is damaged.
    pub fn read(bytes: Vec<u8>) -> Self {
        let Some(mut rest) = bytes.strip_prefix(PACK_MAGIC) else {
            return ParsePack::default();
        };
        let mut entries = Vec::new();
        while !rest.is_empty() {
            let (Some(key), Some(length)) = (rest.get(..16), rest.get(16..20)) else {
                return ParsePack::default();
            };
            let key = u128::from_le_bytes(key.try_into().unwrap_or_default());
            let length = u32::from_le_bytes(length.try_into().unwrap_or_default()) as usize;
            let start = bytes.len() - rest.len() + 20;
            if rest.len() < 20 + length {
                return ParsePack::default();
            }
            entries.push((key, start..start + length));
            rest = &rest[20 + length..];
        }
        entries.sort_by_key(|(key, _)| *key);
        entries.dedup_by_key(|(key, _)| *key);
        ParsePack { bytes, entries }
    }

    /// Writes parses (content key and encoding) in the pack's format.
    pub fn write<'p>(
        out: &mut dyn std::io::Write,
        parses: impl Iterator<Item = (u128, &'p [u8])>,
    ) -> std::io::Result<()> {
        out.write_all(PACK_MAGIC)?;
        for (key, encoded) in parses {
            let length = u32::try_from(encoded.len()).map_err(std::io::Error::other)?;
            out.write_all(&key.to_le_bytes())?;
            out.write_all(&length.to_le_bytes())?;
            out.write_all(encoded)?;
        }
        Ok(())
    }

    /// The parse for `key`, and its encoding, if the pack has it and it decodes.
    pub fn get(&self, key: u128) -> Option<(ParsedFile, &[u8])> {
        let at = self.entries.binary_search_by_key(&key, |(k, _)| *k).ok()?;
        let encoded = &self.bytes[self.entries[at].1.clone()];
        Some((decode(encoded)?, encoded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pack_round_trips_and_a_damaged_one_is_empty() {
        let parsed = super::super::read::parse("pub struct A;", &crate::frontend::BodyWords::default());
        let encoded = encode(&parsed);
        let mut bytes = Vec::new();
        ParsePack::write(
            &mut bytes,
            [(7u128, encoded.as_slice()), (3, b"x".as_slice())].into_iter(),
        )
        .expect("writes");
        let pack = ParsePack::read(bytes.clone());
        let (hit, raw) = pack.get(7).expect("present");
        assert_eq!(hit.definitions.len(), 1);
        assert_eq!(raw, encoded.as_slice());
        assert!(pack.get(3).is_none(), "an entry that does not decode is a miss");
        assert!(pack.get(9).is_none());
        bytes.truncate(bytes.len() - 1);
        assert!(ParsePack::read(bytes).get(7).is_none(), "a truncated pack is empty");
        assert!(ParsePack::read(b"garbage".to_vec()).get(7).is_none());
    }
}
