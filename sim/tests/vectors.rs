//! The wire formats against every real frame OpenThread sent: each frame of the Thread 1.1
//! captures in `sim/tests/data/vectors` (copied from the reference set) (`thread11.pcap`, `thread11-line.pcap`) goes down
//! through every layer we parse (FCS, 802.15.4 header, MAC security, 6LoWPAN mesh/fragment/
//! IPHC headers, reassembly, IPv6 and Hop-by-Hop, UDP/ICMPv6, MLE security and MLE TLVs, CoAP,
//! TMF TLVs, Network Data), then back up (re-emit every layer, recompute checksums, re-encrypt)
//! and must come out byte for byte. What the frame says (MLE command, MLE TLV types, CoAP
//! Uri-Path) is compared with tshark's reading of the same frames, checked in as
//! `tests/data/vectors-tshark.tsv` (`tools/regen-vector-expectations.sh` makes it).
//!
//! The same file holds the rejection tests: real frames truncated, grown past 127 bytes,
//! opened with the wrong key, or replayed must give the typed `pymesh::wire::Error`, never a
//! panic, at the MAC and the MLE layer.

use std::collections::{BTreeMap, HashMap};

use pymesh::lowpan::Reassembler;
use pymesh::time::{Duration, Instant};
use pymesh::wire::coap;
use pymesh::wire::icmpv6::{self, Icmpv6Repr};
use pymesh::wire::ieee802154::{
    self, strip_fcs, Address, BeaconRepr, Frame, FrameRepr as MacFrameRepr, FrameType, MacCommand,
    ThreadBeaconPayload,
};
use pymesh::wire::ipv6::{self, next_header as nh, HopByHopPacket, HopByHopRepr, Ipv6Repr};
use pymesh::wire::mle::{MleRepr, MleTlv};
use pymesh::wire::mle_security::{self, MlePacket};
use pymesh::wire::netdata::NetworkData;
use pymesh::wire::security::{self, FrameCounterTable, Key, KeyManager};
use pymesh::wire::sixlowpan::{
    ContextTable, FragmentHeaderRepr, FramePayload, FrameRepr as LowpanFrameRepr, LinkAddress,
};
use pymesh::wire::tmf::{TmfRepr, TmfTlv};
use pymesh::wire::udp::{self, UdpRepr};
use pymesh::wire::{Error, ExtAddress, Ipv6Address};
use pymesh_sim::pcap::read_pcap;

/// The captures' network key (Pymesh's default), key sequence 0.
const NETWORK_KEY: Key = [
    0x12, 0x34, 0xc0, 0xde, 0x1a, 0xb5, 0x12, 0x34, 0xc0, 0xde, 0x1a, 0xb5, 0xca, 0x1a, 0x11, 0x0f,
];
/// fdde:ad00:beef:0::/64, 6LoWPAN context 0.
const MESH_LOCAL_PREFIX: [u8; 8] = [0xfd, 0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0x00];
const CAPTURES: [&str; 2] = ["thread11", "thread11-line"];
const TMF_PORT: u16 = 61631;

fn capture(name: &str) -> Vec<(u64, Vec<u8>)> {
    let path = format!(
        "{}/tests/data/vectors/{name}.pcap",
        env!("CARGO_MANIFEST_DIR")
    );
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (linktype, frames) = read_pcap(&data).unwrap_or_else(|| panic!("{path}: not a pcap"));
    assert_eq!(linktype, 195, "{path}: 802.15.4 with FCS expected");
    frames
}

/// What one frame says, in the terms of the tshark expectation file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Reading {
    mle_command: Option<u8>,
    mle_tlv_types: Vec<u8>,
    coap_uri: Option<String>,
}

impl Reading {
    /// The three fields as the TSV writes them.
    fn fields(&self) -> [String; 3] {
        let types: Vec<String> = self.mle_tlv_types.iter().map(u8::to_string).collect();
        [
            self.mle_command.map_or(String::new(), |c| c.to_string()),
            types.join(","),
            self.coap_uri.clone().unwrap_or_default(),
        ]
    }
}

fn link(a: Option<Address>) -> Result<LinkAddress, String> {
    match a {
        Some(Address::Short(s)) => Ok(LinkAddress::Short(s)),
        Some(Address::Extended(e)) => Ok(LinkAddress::Extended(e)),
        None => Err("data frame without an address".into()),
    }
}

fn e<T>(layer: &str, r: Result<T, Error>) -> Result<T, String> {
    r.map_err(|err| format!("{layer}: {err:?}"))
}

fn same(layer: &str, ours: &[u8], theirs: &[u8]) -> Result<(), String> {
    if ours == theirs {
        Ok(())
    } else {
        Err(format!(
            "{layer} re-emitted differently:\n ours   {}\n theirs {}",
            hex(ours),
            hex(theirs)
        ))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The state a sniffer needs to read a whole capture, and what it has seen.
struct Walker {
    keys: KeyManager,
    contexts: ContextTable,
    /// RLOC16 -> extended address, learned from MLE (Source Address TLV with the link-local
    /// sender; Address16 TLV with the link-local receiver): the MAC nonce of a frame sent
    /// from a short address needs the sender's extended address.
    neighbours: HashMap<u16, ExtAddress>,
    /// One reassembler per receiver (the MAC destination): a sniffer sees every hop.
    reassemblers: HashMap<LinkAddress, Reassembler<2>>,
    /// (token, message id) of CoAP requests -> Uri-Path, to name responses as tshark does.
    coap_requests: HashMap<(Vec<u8>, u16), String>,
    /// Frames and layers covered, by kind.
    kinds: BTreeMap<String, usize>,
    /// Each layer's bytes as the fuzz target of that parser takes them (see `fuzz/src/lib.rs`
    /// for the layouts), to seed the fuzzers.
    seeds: BTreeMap<&'static str, Vec<Vec<u8>>>,
}

impl Walker {
    fn new() -> Self {
        Walker {
            keys: KeyManager::new(NETWORK_KEY, 0),
            contexts: ContextTable::with_mesh_local_prefix(MESH_LOCAL_PREFIX),
            neighbours: HashMap::new(),
            reassemblers: HashMap::new(),
            coap_requests: HashMap::new(),
            kinds: BTreeMap::new(),
            seeds: BTreeMap::new(),
        }
    }

    fn seed(&mut self, target: &'static str, parts: &[&[u8]]) {
        let v = self.seeds.entry(target).or_default();
        let bytes = parts.concat();
        if !v.contains(&bytes) {
            v.push(bytes);
        }
    }

    fn count(&mut self, kind: impl Into<String>) {
        *self.kinds.entry(kind.into()).or_default() += 1;
    }

    /// The sender's extended address for the MAC nonce.
    fn sender_ext(&self, src: Option<Address>) -> Result<ExtAddress, String> {
        match src {
            Some(Address::Extended(e)) => Ok(e),
            Some(Address::Short(s)) => self
                .neighbours
                .get(&s.0)
                .copied()
                .ok_or_else(|| format!("no extended address learned for {:04x}", s.0)),
            None => Err("secured frame without source".into()),
        }
    }

    /// Down and up through every layer of one captured frame (with FCS).
    fn frame(&mut self, time_us: u64, captured: &[u8]) -> Result<Reading, String> {
        let body = e("FCS", strip_fcs(captured))?;
        let frame = e("802.15.4 frame", Frame::new_checked(body))?;
        let mac = e("802.15.4 header", MacFrameRepr::parse(&frame))?;
        let mut header = [0u8; ieee802154::MAX_PSDU];
        let hn = e("802.15.4 header emit", mac.emit(&mut header))?;
        same(
            "802.15.4 header",
            &header[..hn],
            &body[..frame.header_len()],
        )?;

        self.seed("mac_frame", &[body]);
        if let Some(at) = frame.aux_security_header_offset() {
            self.seed("aux_security_header", &[&body[at..frame.header_len()]]);
        }

        let mut plain = body.to_vec();
        let payload_range = match mac.security {
            Some(_) => {
                let src = self.sender_ext(mac.src_addr)?;
                let (_, range) = e("MAC security", self.keys.unsecure_frame(&mut plain, &src))?;
                self.count("MAC-secured frames (MIC verified, decrypted, re-encrypted)");
                range
            }
            None => frame.payload_range(),
        };
        let mac_payload = plain[payload_range].to_vec();

        let mut reading = Reading::default();
        let rebuilt_payload = match mac.frame_type {
            FrameType::Ack => {
                self.count("802.15.4 acks");
                mac_payload.clone()
            }
            FrameType::Beacon => {
                self.count("802.15.4 beacons");
                let b = e("beacon", BeaconRepr::parse(&mac_payload))?;
                e(
                    "Thread beacon",
                    ThreadBeaconPayload::parse(b.beacon_payload),
                )?;
                let mut out = vec![0u8; b.buffer_len()];
                e("beacon emit", b.emit(&mut out))?;
                out
            }
            FrameType::MacCommand => {
                let cmd = MacCommand::from_id(*mac_payload.first().ok_or("empty MAC command")?);
                self.count(format!("802.15.4 MAC commands ({cmd:?})"));
                mac_payload.clone()
            }
            FrameType::Data => {
                self.count("802.15.4 data frames");
                self.lowpan(time_us, &mac, &mac_payload, &mut reading)?
            }
        };
        same("MAC payload", &rebuilt_payload, &mac_payload)?;

        // Back up: header, rebuilt payload, room for the MIC, then re-secure.
        let mut out = header[..hn].to_vec();
        out.extend_from_slice(&rebuilt_payload);
        out.resize(out.len() + mac.mic_len(), 0);
        if let Some(aux) = mac.security {
            let (_, key) = e("MAC key", self.keys.mac_key_for(&aux.key_identifier))?;
            let src = self.sender_ext(mac.src_addr)?;
            e("MAC secure", security::secure_frame(&mut out, &key, &src))?;
        }
        same("802.15.4 frame", &out, body)?;
        Ok(reading)
    }

    /// The 6LoWPAN layer of a (decrypted) data frame; returns the MAC payload rebuilt from
    /// the re-emitted upper layers.
    fn lowpan(
        &mut self,
        time_us: u64,
        mac: &MacFrameRepr,
        payload: &[u8],
        reading: &mut Reading,
    ) -> Result<Vec<u8>, String> {
        let (src, dst) = (link(mac.src_addr)?, link(mac.dst_addr)?);
        let mut flags = 0u8;
        let mut addrs = Vec::new();
        for (bit, a) in [(1u8, src), (2, dst)] {
            match a {
                LinkAddress::Short(s) => addrs.extend_from_slice(&s.0.to_be_bytes()),
                LinkAddress::Extended(x) => {
                    flags |= bit;
                    addrs.extend_from_slice(&x.0);
                }
            }
        }
        self.seed("sixlowpan", &[&[flags], &addrs, payload]);
        let lowpan = e(
            "6LoWPAN",
            LowpanFrameRepr::parse(payload, &src, &dst, &self.contexts),
        )?;
        let mut out = vec![0u8; lowpan.buffer_len()];
        let n = e("6LoWPAN emit", lowpan.emit(&mut out))?;
        same("6LoWPAN", &out[..n], payload)?;
        if lowpan.mesh.is_some() {
            self.count("6LoWPAN mesh header frames");
        }
        match (&lowpan.fragment, &lowpan.payload) {
            (
                None,
                FramePayload::Iphc {
                    header,
                    payload: rest,
                },
            ) => {
                self.count("6LoWPAN IPHC unfragmented");
                let mut dgram = vec![0u8; ipv6::MIN_MTU];
                let dn = e("IPHC decompress", header.decompress(rest, None, &mut dgram))?;
                let rebuilt = self.datagram(&dgram[..dn], reading)?;
                // The compressed headers stand for the first `uncompressed_len` bytes; the
                // UDP checksum they carry inline comes from the rebuilt datagram.
                let mut header = header.clone();
                let hl = header.uncompressed_len();
                if let Some(u) = header.udp.as_mut() {
                    u.checksum = u16::from_be_bytes([rebuilt[hl - 2], rebuilt[hl - 1]]);
                }
                let again = LowpanFrameRepr {
                    mesh: lowpan.mesh,
                    fragment: None,
                    payload: FramePayload::Iphc {
                        header,
                        payload: &rebuilt[hl..],
                    },
                };
                let mut out = vec![0u8; again.buffer_len()];
                let n = e("6LoWPAN rebuild", again.emit(&mut out))?;
                out.truncate(n);
                Ok(out)
            }
            (Some(f), _) => {
                self.count(match f {
                    FragmentHeaderRepr::First { .. } => "6LoWPAN FRAG1",
                    FragmentHeaderRepr::Next { .. } => "6LoWPAN FRAGN",
                });
                let now = Instant::from_millis(time_us / 1000);
                let r = self
                    .reassemblers
                    .entry(dst)
                    .or_insert_with(|| Reassembler::new(Duration::from_secs(2)));
                let done = e("reassembly", r.process(now, &src, &lowpan))?.map(<[u8]>::to_vec);
                if let Some(dgram) = done {
                    self.count("6LoWPAN datagrams reassembled");
                    let rebuilt = self.datagram(&dgram, reading)?;
                    same("reassembled datagram", &rebuilt, &dgram)?;
                }
                Ok(out[..n].to_vec())
            }
            (None, FramePayload::FragmentData(_)) => Err("fragment data without header".into()),
        }
    }

    /// A whole IPv6 datagram: parse, go up, and return it rebuilt from re-emitted layers.
    fn datagram(&mut self, dgram: &[u8], reading: &mut Reading) -> Result<Vec<u8>, String> {
        let p = e("IPv6", ipv6::Packet::new_checked(dgram))?;
        let ip = e("IPv6", Ipv6Repr::parse(&p))?;
        let end = ipv6::HEADER_LEN + usize::from(ip.payload_len);
        self.seed("ipv6", &[&dgram[..end]]);
        let mut out = vec![0u8; ipv6::HEADER_LEN];
        e("IPv6 emit", ip.emit(&mut out))?;
        let mut next = ip.next_header;
        let mut at = ipv6::HEADER_LEN;
        while next == nh::HOP_BY_HOP {
            let hp = e("Hop-by-Hop", HopByHopPacket::new_checked(&dgram[at..end]))?;
            let h = e("Hop-by-Hop", HopByHopRepr::parse(&hp))?;
            if h.mpl_option().is_some() {
                self.count("IPv6 Hop-by-Hop with MPL option");
            }
            let mut hb = vec![0u8; h.buffer_len()];
            e("Hop-by-Hop emit", h.emit(&mut hb))?;
            out.extend_from_slice(&hb);
            next = h.next_header;
            at += h.buffer_len();
        }
        let body = &dgram[at..end];
        let (src, dst) = (ip.src_addr, ip.dst_addr);
        let target = if next == nh::UDP { "udp" } else { "icmpv6" };
        self.seed(target, &[&src.0, &dst.0, body]);
        match next {
            nh::UDP => {
                let up = e("UDP", udp::Packet::new_checked(body))?;
                let u = e("UDP", UdpRepr::parse(&up, &src, &dst))?;
                let payload = up.payload();
                let rebuilt = if u.dst_port == mle_security::UDP_PORT {
                    self.mle(payload, &src, &dst, reading)?
                } else if u.dst_port == TMF_PORT || u.src_port == TMF_PORT {
                    self.coap(payload, reading)?
                } else {
                    self.count(format!("UDP port {} datagrams", u.dst_port));
                    payload.to_vec()
                };
                let mut ub = vec![0u8; u.buffer_len(rebuilt.len())];
                e("UDP emit", u.emit(&mut ub, &rebuilt, &src, &dst))?;
                same("UDP", &ub, body)?;
                out.extend_from_slice(&ub);
            }
            nh::ICMPV6 => {
                let ip6 = e("ICMPv6", icmpv6::Packet::new_checked(body))?;
                let m = e("ICMPv6", Icmpv6Repr::parse(&ip6, &src, &dst))?;
                self.count(match m {
                    Icmpv6Repr::EchoRequest { .. } => "ICMPv6 echo requests",
                    Icmpv6Repr::EchoReply { .. } => "ICMPv6 echo replies",
                    _ => "ICMPv6 other",
                });
                let mut mb = vec![0u8; m.buffer_len()];
                e("ICMPv6 emit", m.emit(&mut mb, &src, &dst))?;
                same("ICMPv6", &mb, body)?;
                out.extend_from_slice(&mb);
            }
            other => return Err(format!("IPv6 next header {other} not expected")),
        }
        same("IPv6 datagram", &out, &dgram[..end])?;
        Ok(out)
    }

    /// An MLE UDP payload: unsecure (MIC), parse, re-emit, re-secure.
    fn mle(
        &mut self,
        udp_payload: &[u8],
        src: &Ipv6Address,
        dst: &Ipv6Address,
        reading: &mut Reading,
    ) -> Result<Vec<u8>, String> {
        self.seed("mle_envelope", &[&src.0, &dst.0, udp_payload]);
        if let Ok(p) = MlePacket::new_checked(udp_payload) {
            self.seed("aux_security_header", &[p.aux_security_header_bytes()]);
        }
        let mut plain = [0u8; ipv6::MIN_MTU];
        let u = e(
            "MLE security",
            mle_security::unsecure(udp_payload, src, dst, &self.keys, &mut plain),
        )?;
        let plain = &plain[..u.len];
        let mle = e("MLE", MleRepr::parse(plain))?;
        self.seed("mle", &[plain]);
        let mut again = vec![0u8; mle.buffer_len()];
        let n = e("MLE emit", mle.emit(&mut again))?;
        same("MLE", &again[..n], plain)?;
        self.count(format!("MLE {:?}", mle.command));
        reading.mle_command = Some(mle.command.into());
        for tlv in &mle.tlvs {
            reading.mle_tlv_types.push(tlv.tlv_type());
            // tshark's `mle.tlv.type` also holds each type a TLV Request asks for (its
            // dissector shows them with the same field), so list them the same way.
            if let MleTlv::TlvRequest(requested) = tlv {
                reading.mle_tlv_types.extend_from_slice(requested);
            }
        }
        for tlv in &mle.tlvs {
            match tlv {
                MleTlv::NetworkData(nd) => self.network_data(nd)?,
                // Who is who at the MAC layer, for frames sent from a short address.
                MleTlv::SourceAddress(s) if src.is_link_local() => {
                    self.neighbours.insert(s.0, u.sender);
                }
                MleTlv::Address16(s) if dst.is_link_local() && !dst.is_multicast() => {
                    self.neighbours.insert(s.0, ExtAddress::from_iid(dst.iid()));
                }
                _ => {}
            }
        }
        let mut out = vec![0u8; mle_security::buffer_len(u.security.as_ref(), n)];
        let len = match u.security {
            Some(aux) => {
                self.count("MLE secured (MIC verified, decrypted, re-encrypted)");
                let (_, key) = e("MLE key", self.keys.mle_key_for(&aux.key_identifier))?;
                e(
                    "MLE secure",
                    mle_security::secure(&aux, &key, &u.sender, src, dst, &again[..n], &mut out),
                )?
            }
            None => e(
                "MLE unsecured emit",
                mle_security::emit_unsecured(&again[..n], &mut out),
            )?,
        };
        out.truncate(len);
        same("MLE envelope", &out, udp_payload)?;
        Ok(out)
    }

    /// A TMF CoAP message and its TLVs.
    fn coap(&mut self, udp_payload: &[u8], reading: &mut Reading) -> Result<Vec<u8>, String> {
        let c = e("CoAP", coap::Repr::parse(udp_payload))?;
        self.seed("coap", &[udp_payload]);
        let mut out = vec![0u8; c.buffer_len()];
        let n = e("CoAP emit", c.emit(&mut out))?;
        out.truncate(n);
        same("CoAP", &out, udp_payload)?;
        let segments: Vec<String> = c
            .uri_path()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        let key = (c.token.to_vec(), c.message_id);
        let uri = if segments.is_empty() {
            self.coap_requests.get(&key).cloned()
        } else {
            let uri = format!("/{}", segments.join("/"));
            self.coap_requests.insert(key, uri.clone());
            Some(uri)
        };
        self.count(format!(
            "CoAP {} {}",
            if c.code.is_request() {
                "request"
            } else {
                "response"
            },
            uri.as_deref().unwrap_or("?")
        ));
        reading.coap_uri = uri;
        if !c.payload.is_empty() {
            let t = e("TMF", TmfRepr::parse(c.payload))?;
            self.seed("tmf", &[c.payload]);
            let mut tb = vec![0u8; t.buffer_len()];
            let tn = e("TMF emit", t.emit(&mut tb))?;
            same("TMF", &tb[..tn], c.payload)?;
            self.count("TMF payloads (TLVs round-tripped)");
            for tlv in &t.tlvs {
                if let TmfTlv::ThreadNetworkData(nd) = tlv {
                    self.network_data(nd)?;
                }
            }
        }
        Ok(out)
    }

    /// A Network Data block: every TLV typed, then emitted back.
    fn network_data(&mut self, nd: &NetworkData) -> Result<(), String> {
        let tlvs: Vec<_> = nd.iter().collect();
        self.seed("netdata", &[nd.as_bytes()]);
        let mut out = vec![0u8; nd.as_bytes().len()];
        let n = e("Network Data emit", NetworkData::emit_tlvs(&tlvs, &mut out))?;
        same("Network Data", &out[..n], nd.as_bytes())?;
        self.count("Network Data blocks");
        Ok(())
    }
}

/// Most seed files per fuzz target: a handful, spread over the captures.
const SEEDS_PER_TARGET: usize = 8;

/// Write a handful of each target's inputs (evenly spread over what the walk saw) into
/// `dir/<target>/`, replacing the generated ones. The captures hold no beacon: that seed is a
/// Thread beacon as OpenThread builds it, made with our emitter (see `BeaconRepr::thread`).
fn write_seeds(dir: &std::path::Path, mut seeds: BTreeMap<&'static str, Vec<Vec<u8>>>) {
    let payload = ThreadBeaconPayload {
        version: ThreadBeaconPayload::PROTOCOL_VERSION,
        flags: ThreadBeaconPayload::FLAG_NATIVE,
        network_name: *b"Pymesh\0\0\0\0\0\0\0\0\0\0",
        extended_pan_id: [0xde, 0xad, 0x00, 0xbe, 0xef, 0x00, 0xca, 0xfe],
    };
    let mut pb = [0u8; ThreadBeaconPayload::LEN];
    payload.emit(&mut pb).expect("beacon payload");
    let b = BeaconRepr::thread(&pb);
    let mut bb = vec![0u8; b.buffer_len()];
    b.emit(&mut bb).expect("beacon");
    seeds.entry("beacon").or_default().push(bb);
    for (target, all) in seeds {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).expect("seed dir");
        // Replace the generated seeds; keep `regress-*` (inputs that once failed a target).
        for f in std::fs::read_dir(&d).expect("seed dir").flatten() {
            if !f.file_name().to_string_lossy().starts_with("regress-") {
                std::fs::remove_file(f.path()).expect("old seed");
            }
        }
        let step = all.len().div_ceil(SEEDS_PER_TARGET).max(1);
        for (i, s) in all.iter().step_by(step).enumerate() {
            std::fs::write(d.join(format!("{i:02}")), s).expect("seed file");
        }
    }
}

/// tshark's reading, `(pcap, frame number) -> [mle.cmd, mle.tlv.type, uri]`.
fn expectations() -> BTreeMap<(String, usize), [String; 3]> {
    let text = include_str!("data/vectors-tshark.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "bad expectation line {l:?}");
            (
                (f[0].to_string(), f[1].parse().expect("frame number")),
                [f[2].to_string(), f[3].to_string(), f[4].to_string()],
            )
        })
        .collect()
}

#[test]
fn every_vector_frame_round_trips_and_reads_as_tshark_reads_it() {
    let expected = expectations();
    let mut walked = 0;
    let mut failures = Vec::new();
    let mut totals = BTreeMap::<String, usize>::new();
    let mut seeds = BTreeMap::<&'static str, Vec<Vec<u8>>>::new();
    for name in CAPTURES {
        // A fresh sniffer per capture: the two are separate networks in time.
        let mut w = Walker::new();
        for (i, (t, captured)) in capture(name).iter().enumerate() {
            let number = i + 1;
            walked += 1;
            let Some(want) = expected.get(&(name.to_string(), number)) else {
                failures.push(format!("{name} #{number}: not in vectors-tshark.tsv"));
                continue;
            };
            match w.frame(*t, captured) {
                Ok(reading) if reading.fields() == *want => {}
                Ok(reading) => failures.push(format!(
                    "{name} #{number}: we read {:?}, tshark {want:?}",
                    reading.fields()
                )),
                Err(err) => failures.push(format!("{name} #{number}: {err}")),
            }
        }
        for (k, v) in w.kinds {
            *totals.entry(k).or_default() += v;
        }
        for (k, v) in w.seeds {
            seeds.entry(k).or_default().extend(v);
        }
    }
    println!("{walked} frames walked; coverage by kind:");
    for (k, v) in &totals {
        println!("  {v:4}  {k}");
    }
    assert_eq!(
        walked,
        expected.len(),
        "frames in pcaps vs expectation lines"
    );
    if let Some(dir) = std::env::var_os("PYMESH_DUMP_SEEDS") {
        write_seeds(std::path::Path::new(&dir), seeds);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The captures exercise every layer; losing one (a frame misclassified and skipped) fails.
    for kind in [
        "802.15.4 acks",
        "MAC-secured frames (MIC verified, decrypted, re-encrypted)",
        "MLE secured (MIC verified, decrypted, re-encrypted)",
        "6LoWPAN mesh header frames",
        "6LoWPAN FRAG1",
        "6LoWPAN FRAGN",
        "6LoWPAN datagrams reassembled",
        "IPv6 Hop-by-Hop with MPL option",
        "ICMPv6 echo requests",
        "ICMPv6 echo replies",
        "TMF payloads (TLVs round-tripped)",
        "Network Data blocks",
    ] {
        assert!(totals.get(kind).is_some_and(|&n| n > 0), "no {kind}");
    }
}

// ---------------------------------------------------------------------------------------------
// Rejections, starting from real frames
// ---------------------------------------------------------------------------------------------

/// The first frame of `thread11.pcap` satisfying `pick`, without FCS.
fn real_frame(pick: impl Fn(&MacFrameRepr, &[u8]) -> bool) -> Vec<u8> {
    capture("thread11")
        .into_iter()
        .map(|(_, f)| strip_fcs(&f).expect("FCS").to_vec())
        .find(|b| {
            Frame::new_checked(&b[..])
                .and_then(|f| MacFrameRepr::parse(&f))
                .is_ok_and(|m| pick(&m, b))
        })
        .expect("no such frame in thread11.pcap")
}

/// The first MAC-secured frame of `thread11.pcap` (without FCS) and its sender's extended
/// address, learned from the MLE exchange before it as a receiver learns it (the frame itself
/// carries only the short address).
fn mac_secured_frame() -> (Vec<u8>, ExtAddress) {
    let mut w = Walker::new();
    for (t, captured) in capture("thread11") {
        let b = strip_fcs(&captured).expect("FCS").to_vec();
        let m = MacFrameRepr::parse(&Frame::new_checked(&b[..]).expect("frame")).expect("MAC");
        if m.security.is_some() {
            let src = w.sender_ext(m.src_addr).expect("sender learned from MLE");
            return (b, src);
        }
        w.frame(t, &captured).expect("walk");
    }
    panic!("no MAC-secured frame in thread11.pcap")
}

fn keys() -> KeyManager {
    KeyManager::new(NETWORK_KEY, 0)
}

#[test]
fn mac_frame_from_the_capture_opens_with_the_network_key() {
    // The base case the rejections below depart from.
    let (mut b, src) = mac_secured_frame();
    assert!(keys().unsecure_frame(&mut b, &src).is_ok());
}

#[test]
fn truncated_mac_frames_are_rejected_typed() {
    let (b, src) = mac_secured_frame();
    let aux_end = {
        let f = Frame::new_checked(&b[..]).unwrap();
        f.header_len()
    };
    for len in 0..b.len() {
        let mut cut = b[..len].to_vec();
        let parsed = Frame::new_checked(&cut[..]).and_then(|f| MacFrameRepr::parse(&f));
        // Up to the end of the header + MIC the frame cannot even be viewed.
        if len < aux_end + 4 {
            assert_eq!(parsed.err(), Some(Error::Truncated), "length {len}");
            assert_eq!(
                keys().unsecure_frame(&mut cut, &src).err(),
                Some(Error::Truncated),
                "length {len}"
            );
        } else {
            // Enough for a header and a MIC: the cut shows as a MIC failure.
            assert_eq!(
                keys().unsecure_frame(&mut cut, &src).err(),
                Some(Error::AuthenticationFailed),
                "length {len}"
            );
        }
    }
    assert_eq!(strip_fcs(&[0x41]).err(), Some(Error::Truncated));
}

#[test]
fn oversized_mac_frames_are_rejected() {
    let (mut b, src) = mac_secured_frame();
    // Grow the payload past 127 bytes: no 802.15.4 PSDU is that long.
    let extra = ieee802154::MAX_PSDU + 1 - b.len();
    let mic_at = b.len() - 4;
    b.splice(mic_at..mic_at, std::iter::repeat_n(0u8, extra));
    assert_eq!(b.len(), ieee802154::MAX_PSDU + 1);
    assert_eq!(Frame::new_checked(&b[..]).err(), Some(Error::Oversized));
    assert_eq!(
        keys().unsecure_frame(&mut b, &src).err(),
        Some(Error::Oversized)
    );
}

#[test]
fn oversized_mac_frames_never_verify() {
    // What the core does today with a frame above 127 bytes (see the ignored test above): it
    // is at least not accepted, and nothing panics.
    let (mut b, src) = mac_secured_frame();
    let mic_at = b.len() - 4;
    b.splice(mic_at..mic_at, std::iter::repeat_n(0u8, 200));
    assert!(b.len() > ieee802154::MAX_PSDU);
    assert!(keys().unsecure_frame(&mut b, &src).is_err());
}

#[test]
fn wrong_key_mac_frames_fail_authentication() {
    let (b, src) = mac_secured_frame();
    let mut other = NETWORK_KEY;
    other[15] ^= 1;
    let mut c = b.clone();
    assert_eq!(
        KeyManager::new(other, 0).unsecure_frame(&mut c, &src).err(),
        Some(Error::AuthenticationFailed)
    );
    // Right key, wrong sender (the nonce): also a MIC failure.
    let mut c = b.clone();
    assert_eq!(
        keys().unsecure_frame(&mut c, &ExtAddress([3; 8])).err(),
        Some(Error::AuthenticationFailed)
    );
    // One flipped bit anywhere in header, payload or MIC.
    for i in 0..b.len() {
        let mut c = b.clone();
        c[i] ^= 0x10;
        let r = keys().unsecure_frame(&mut c, &src);
        assert!(r.is_err(), "byte {i} flipped still verifies");
    }
}

#[test]
fn replayed_mac_frames_are_refused() {
    let (mut b, src) = mac_secured_frame();
    let aux = MacFrameRepr::parse(&Frame::new_checked(&b[..]).unwrap())
        .unwrap()
        .security
        .unwrap();
    let (seq, _) = keys().unsecure_frame(&mut b, &src).unwrap();
    let mut table = FrameCounterTable::<4>::new();
    assert_eq!(table.accept(&src, seq, aux.frame_counter), Ok(()));
    // The same frame again (its counter is not above the last accepted one).
    assert_eq!(
        table.accept(&src, seq, aux.frame_counter),
        Err(Error::Replayed)
    );
    if aux.frame_counter > 0 {
        assert_eq!(
            table.check(&src, seq, aux.frame_counter - 1),
            Err(Error::Replayed)
        );
    }
    assert_eq!(table.check(&src, seq, aux.frame_counter + 1), Ok(()));
}

/// A secured MLE message from the capture: (UDP payload, IPv6 source, IPv6 destination).
fn mle_message() -> (Vec<u8>, Ipv6Address, Ipv6Address) {
    // Frame 1: node 1's Parent Request, an unfragmented MAC-unsecured frame.
    let b = real_frame(|m, _| m.security.is_none() && m.frame_type == FrameType::Data);
    let f = Frame::new_checked(&b[..]).unwrap();
    let m = MacFrameRepr::parse(&f).unwrap();
    let ctx = ContextTable::with_mesh_local_prefix(MESH_LOCAL_PREFIX);
    let lp = LowpanFrameRepr::parse(
        f.payload(),
        &link(m.src_addr).unwrap(),
        &link(m.dst_addr).unwrap(),
        &ctx,
    )
    .unwrap();
    let FramePayload::Iphc { header, payload } = lp.payload else {
        panic!("not IPHC")
    };
    let mut dgram = [0u8; 1280];
    let n = header.decompress(payload, None, &mut dgram).unwrap();
    let ip = Ipv6Repr::parse(&ipv6::Packet::new_checked(&dgram[..n]).unwrap()).unwrap();
    let u = udp::Packet::new_checked(&dgram[40..n]).unwrap();
    assert_eq!(u.dst_port(), mle_security::UDP_PORT);
    (u.payload().to_vec(), ip.src_addr, ip.dst_addr)
}

#[test]
fn truncated_mle_messages_are_rejected_typed() {
    let (msg, src, dst) = mle_message();
    let mut out = [0u8; 1280];
    assert!(mle_security::unsecure(&msg, &src, &dst, &keys(), &mut out).is_ok());
    let aux_len = MlePacket::new_checked(&msg[..])
        .unwrap()
        .aux_security_header_bytes()
        .len();
    for len in 0..msg.len() {
        let r = mle_security::unsecure(&msg[..len], &src, &dst, &keys(), &mut out);
        // Suite byte + aux header + command byte + MIC: below that, Truncated.
        let want = if len < 1 + aux_len + 1 + mle_security::MIC_LEN {
            Error::Truncated
        } else {
            Error::AuthenticationFailed
        };
        assert_eq!(r.err(), Some(want), "length {len}");
    }
    // The plaintext MLE parser: every prefix of a real message either parses or is typed.
    let u = mle_security::unsecure(&msg, &src, &dst, &keys(), &mut out).unwrap();
    let plain = out[..u.len].to_vec();
    assert_eq!(MleRepr::parse(&plain[..0]).err(), Some(Error::Truncated));
    for len in 1..plain.len() {
        match MleRepr::parse(&plain[..len]) {
            Ok(_) | Err(Error::Truncated) | Err(Error::Malformed) => {}
            Err(other) => panic!("length {len}: {other:?}"),
        }
    }
}

#[test]
fn oversized_mle_messages_are_rejected() {
    let (msg, src, dst) = mle_message();
    let mut out = [0u8; 1280];
    let u = mle_security::unsecure(&msg, &src, &dst, &keys(), &mut out).unwrap();
    let plain = out[..u.len].to_vec();
    // More TLVs than an MleRepr holds: the real message's TLVs repeated.
    let mut big = plain.clone();
    while big.len() < 1 + (pymesh::wire::mle::MAX_TLVS + 1) * (plain.len() - 1) {
        big.extend_from_slice(&plain[1..]);
    }
    assert_eq!(MleRepr::parse(&big).err(), Some(Error::Oversized));
    // A plaintext longer than the caller's buffer is refused, not truncated.
    let mut small = [0u8; 8];
    assert_eq!(
        mle_security::unsecure(&msg, &src, &dst, &keys(), &mut small).err(),
        Some(Error::BufferTooSmall)
    );
}

#[test]
fn wrong_key_mle_messages_fail_authentication() {
    let (msg, src, dst) = mle_message();
    let mut out = [0u8; 1280];
    let mut other = NETWORK_KEY;
    other[0] ^= 0x80;
    assert_eq!(
        mle_security::unsecure(&msg, &src, &dst, &KeyManager::new(other, 0), &mut out).err(),
        Some(Error::AuthenticationFailed)
    );
    // The MLE key of another key sequence (the AAD/nonce are right, the key is not).
    let wrong = security::derive_keys(&NETWORK_KEY, 1).mle_key;
    assert_eq!(
        mle_security::unsecure_with_key(&msg, &src, &dst, &wrong, &mut out).err(),
        Some(Error::AuthenticationFailed)
    );
    // Another destination: the AAD differs.
    assert_eq!(
        mle_security::unsecure(
            &msg,
            &src,
            &Ipv6Address::LINK_LOCAL_ALL_NODES,
            &keys(),
            &mut out
        )
        .err(),
        Some(Error::AuthenticationFailed)
    );
}

#[test]
fn replayed_mle_messages_are_refused() {
    let (msg, src, dst) = mle_message();
    let mut out = [0u8; 1280];
    let u = mle_security::unsecure(&msg, &src, &dst, &keys(), &mut out).unwrap();
    let aux = u.security.expect("secured");
    let seq = u.key_sequence.expect("key sequence");
    let mut table = FrameCounterTable::<4>::new();
    assert_eq!(table.accept(&u.sender, seq, aux.frame_counter), Ok(()));
    // The same message once more: replayed.
    assert_eq!(
        table.accept(&u.sender, seq, aux.frame_counter),
        Err(Error::Replayed)
    );
    // An older key sequence is refused whatever the counter.
    if seq > 0 {
        assert_eq!(
            table.check(&u.sender, seq - 1, u32::MAX),
            Err(Error::Replayed)
        );
    }
}
