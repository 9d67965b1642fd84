//! The LoPy4 board's constructor against the emulated SX1276: RegVersion checked, LoRa standby
//! from whatever state the chip was left in (no reset line), the SX1276's modem and PA_BOOST
//! registers once configured; and the pin map equal to pins.h.

use embedded_hal::spi::SpiDevice;
use pymesh::radio::region::LoRaParams;
use pymesh::radio::sx127x::{Chip, Error};
use pymesh::radio::{LoRaConfig, Radio};
use pymesh::time::Instant;
use pymesh_board_lopy4 as board;
use pymesh_sim::sx127x_emulator::Sx127xEmulator;

fn eu868() -> LoRaConfig {
    LoRaParams {
        region: Some(5),
        frequency: Some(868_100_000),
        ..LoRaParams::pycom_defaults()
    }
    .validate()
    .unwrap()
}

#[test]
fn constructor_brings_up_the_sx1276_with_its_modem_layout_on_pa_boost() {
    let emu = Sx127xEmulator::new(Chip::Sx1276);
    // No reset line: the chip keeps what an earlier run left, here LoRa RX continuous.
    let mut spi = emu.spi();
    for (reg, v) in [(0x01, 0x80), (0x01, 0x85), (0x39, 0x34), (0x0E, 0x80)] {
        spi.write(&[0x80 | reg, v]).unwrap();
    }
    assert_eq!(emu.mode(), (true, 0x05));

    let mut radio = board::radio(emu.spi(), emu.dio0(), &mut emu.delay()).unwrap();
    assert_eq!(emu.register(0x42), 0x12, "RegVersion");
    assert_eq!(emu.mode(), (true, 0x01), "LoRa standby");
    assert_eq!(
        (emu.register(0x0E), emu.register(0x0F)),
        (0, 0),
        "FIFO bases"
    );

    emu.take_writes();
    radio.configure(&eu868()).unwrap();
    let written = emu.writes();
    // SX1276 layout: RegModemConfig1 Bw 7-4 (0111 = 125 kHz), CodingRate 3-1 (001 = 4/5),
    // explicit header; RegModemConfig2 SF7, RxPayloadCrcOn; RegModemConfig3 AgcAutoOn.
    for (reg, v) in [(0x1D, 0x72), (0x1E, 0x74), (0x26, 0x04)] {
        assert!(
            written.contains(&(reg, v)),
            "{reg:#04x} = {v:#04x} in {written:x?}"
        );
    }
    // 14 dBm (EU868 default) on PA_BOOST: PaSelect, MaxPower 7, OutputPower 12; RegPaDac 0x4D.
    assert_eq!(emu.register(0x09), 0xFC);
    assert_eq!(emu.register(0x4D), 0x84);
    let s = emu.settings();
    assert_eq!(
        (
            s.frequency,
            s.sf,
            s.bandwidth_hz,
            s.pa_boost,
            s.tx_power_dbm
        ),
        (868_100_000, 7, 125_000, true, 14)
    );
    radio.transmit(Instant::ZERO, &[0x41; 12]).unwrap();
    assert_eq!(emu.transmissions()[0].frame, vec![0x41; 12]);
    assert_eq!(emu.violations(), Vec::<String>::new());
}

#[test]
fn constructor_refuses_another_chip() {
    let emu = Sx127xEmulator::new(Chip::Sx1272);
    assert_eq!(
        board::radio(emu.spi(), emu.dio0(), &mut emu.delay()).err(),
        Some(Error::WrongVersion {
            chip: Chip::Sx1276,
            found: 0x22
        })
    );
}

#[test]
fn pin_map_equals_pins_h() {
    let h = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pins.h")).unwrap();
    let define = |name: &str| -> i32 {
        let line = h
            .lines()
            .find(|l| l.starts_with(&format!("#define {name} ")))
            .unwrap_or_else(|| panic!("{name} not in pins.h"));
        let v = line.rsplit('(').next().unwrap().trim_end_matches(')');
        v.parse().unwrap()
    };
    use board::pins::*;
    assert_eq!(define("PYMESH_PIN_SPI_SCK"), SPI_SCK as i32);
    assert_eq!(define("PYMESH_PIN_SPI_MOSI"), SPI_MOSI as i32);
    assert_eq!(define("PYMESH_PIN_SPI_MISO"), SPI_MISO as i32);
    assert_eq!(define("PYMESH_PIN_RADIO_NSS"), RADIO_NSS as i32);
    assert_eq!(
        define("PYMESH_PIN_RADIO_RESET"),
        RADIO_RESET.map_or(-1, i32::from)
    );
    assert_eq!(define("PYMESH_PIN_RADIO_DIO0"), RADIO_DIO0 as i32);
    assert_eq!(define("PYMESH_RADIO_CHIP_SX1276"), 1);
    assert_eq!(board::CHIP, Chip::Sx1276);
}
