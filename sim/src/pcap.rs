//! pcap files of 802.15.4 frames (link type 195, IEEE 802.15.4 with FCS) for Wireshark and
//! tshark. LoRa carries frames without the FCS; the writer appends it so dissectors accept them.

use std::io::{self, Write};

use pymesh::wire::ieee802154::fcs;

/// LINKTYPE_IEEE802_15_4_WITHFCS.
pub const LINKTYPE_IEEE802_15_4_WITHFCS: u32 = 195;

pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the global header.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&65535u32.to_le_bytes())?;
        out.write_all(&LINKTYPE_IEEE802_15_4_WITHFCS.to_le_bytes())?;
        Ok(PcapWriter { out })
    }

    /// Writes one frame (without FCS) seen at `time_us`.
    pub fn write_frame(&mut self, time_us: u64, frame: &[u8]) -> io::Result<()> {
        let len = (frame.len() + 2) as u32;
        self.out
            .write_all(&((time_us / 1_000_000) as u32).to_le_bytes())?;
        self.out
            .write_all(&((time_us % 1_000_000) as u32).to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(frame)?;
        self.out.write_all(&fcs(frame).to_le_bytes())?;
        self.out.flush()
    }
}

/// Reads the frames of a pcap file (either byte order, microsecond timestamps):
/// `(time_us, bytes as captured)`.
pub fn read_pcap(data: &[u8]) -> Option<(u32, Vec<(u64, Vec<u8>)>)> {
    if data.len() < 24 {
        return None;
    }
    let magic = u32::from_le_bytes(data[0..4].try_into().ok()?);
    let le = match magic {
        0xa1b2_c3d4 => true,
        0xd4c3_b2a1 => false,
        _ => return None,
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b: [u8; 4] = data.get(i..i + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let linktype = u32_at(20)?;
    let mut frames = Vec::new();
    let mut i = 24;
    while i + 16 <= data.len() {
        let (sec, usec, incl) = (u32_at(i)?, u32_at(i + 4)?, u32_at(i + 8)? as usize);
        let body = data.get(i + 16..i + 16 + incl)?;
        frames.push((sec as u64 * 1_000_000 + usec as u64, body.to_vec()));
        i += 16 + incl;
    }
    Some((linktype, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_it_reads_back_with_fcs() {
        let mut buf = Vec::new();
        let mut w = PcapWriter::new(&mut buf).unwrap();
        w.write_frame(1_500_000, &[0x02, 0x00, 0x05]).unwrap();
        let (lt, frames) = read_pcap(&buf).unwrap();
        assert_eq!(lt, LINKTYPE_IEEE802_15_4_WITHFCS);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, 1_500_000);
        assert_eq!(&frames[0].1[..3], &[0x02, 0x00, 0x05]);
        assert_eq!(frames[0].1.len(), 5);
    }

    #[test]
    fn reads_the_vector_captures() {
        let data = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/vectors/thread11.pcap"
        ))
        .unwrap();
        let (lt, frames) = read_pcap(&data).unwrap();
        assert_eq!(lt, 195);
        assert!(frames.len() > 10);
        for (_, f) in &frames {
            let n = f.len();
            assert_eq!(
                fcs(&f[..n - 2]).to_le_bytes(),
                [f[n - 2], f[n - 1]],
                "FCS of a real frame"
            );
        }
    }
}
