//! The no_std chip model on its own, and the SX127x driver through its `embedded-hal` fronts
//! (the types the qemu board uses), on the host.

use core::cell::{Cell, RefCell};

use critical_section::Mutex;
use embedded_hal::delay::DelayNs;
use embedded_hal::spi::Operation;
use pymesh::radio::region::LoRaParams;
use pymesh::radio::sx127x::{Chip, PaPin, Sx127x};
use pymesh::radio::{LoRaConfig, Radio, RadioEvent};
use pymesh::time::Instant;
use pymesh_sx127x_emu::{
    ChipCell, EmuDio0, EmuReset, EmuSpi, Events, ModemSettings, Sx127xChip, Violation,
};

#[derive(Default)]
struct Record {
    violations: Vec<Violation>,
    frames: Vec<(u64, u64, Vec<u8>)>,
}

impl Events for Record {
    fn violation(&mut self, v: Violation) {
        self.violations.push(v);
    }
    fn transmission(&mut self, start: u64, end: u64, _s: &ModemSettings, frame: &[u8]) {
        self.frames.push((start, end, frame.to_vec()));
    }
}

fn write(chip: &mut Sx127xChip, ev: &mut Record, reg: u8, v: u8) {
    chip.spi_transaction(0, &mut [Operation::Write(&[reg | 0x80, v])], ev)
        .unwrap();
}

#[test]
fn long_range_mode_changes_in_sleep_or_on_entering_it_only() {
    for chip in [Chip::Sx1276, Chip::Sx1272] {
        // From the reset state (FSK standby), one write of LoRa|Sleep: as RadioHead checks.
        let mut c = Sx127xChip::new(chip);
        let mut ev = Record::default();
        write(&mut c, &mut ev, 0x01, 0x80);
        assert_eq!(c.mode(), (true, 0x00), "{chip:?}");
        assert!(ev.violations.is_empty());

        // Standby to RX with LongRangeMode cleared: neither mode is Sleep, the bit stays.
        write(&mut c, &mut ev, 0x01, 0x81);
        write(&mut c, &mut ev, 0x01, 0x05);
        assert_eq!(c.mode(), (true, 0x05), "{chip:?}");
        assert_eq!(
            ev.violations,
            vec![Violation::LongRangeModeOutsideSleep {
                from: 0x81,
                to: 0x05
            }]
        );
        // Back to FSK through Sleep: allowed.
        write(&mut c, &mut ev, 0x01, 0x00);
        assert_eq!(c.mode(), (false, 0x00));
    }
}

#[test]
fn transmission_ends_after_its_airtime_with_tx_done() {
    let mut c = Sx127xChip::new(Chip::Sx1276);
    let mut ev = Record::default();
    write(&mut c, &mut ev, 0x01, 0x80); // LoRa sleep
    write(&mut c, &mut ev, 0x01, 0x81); // standby
    write(&mut c, &mut ev, 0x40, 0x40); // DIO0 = TxDone
    write(&mut c, &mut ev, 0x0D, 0x80); // RegFifoAddrPtr = RegFifoTxBaseAddr
    c.spi_transaction(0, &mut [Operation::Write(&[0x80, 1, 2, 3])], &mut ev)
        .unwrap();
    write(&mut c, &mut ev, 0x22, 3);
    write(&mut c, &mut ev, 0x01, 0x83);
    let (start, end, frame) = ev.frames[0].clone();
    assert_eq!((start, frame), (0, vec![1, 2, 3]));
    // The reset modem settings: SF7, 125 kHz, 4/5, explicit header, CRC off.
    assert_eq!(end, c.settings().airtime_us(3));
    assert!(end > 20_000);
    assert!(!c.dio0(end - 1));
    assert!(c.dio0(end));
    assert_eq!(c.mode(), (true, 0x01));
    assert_eq!(c.register(0x12), 0x08, "TxDone");
    assert_eq!(c.transmissions(), 1);
    assert_eq!(c.take_rises_pending(), 1);
}

/// The chip behind a critical-section mutex, timed by a clock the test moves: the shape of the
/// qemu board's.
struct TestCell {
    chip: Mutex<RefCell<Sx127xChip>>,
    now_us: Mutex<Cell<u64>>,
}

impl ChipCell for TestCell {
    fn with_chip<R>(&self, f: impl FnOnce(&mut Sx127xChip, u64) -> R) -> R {
        critical_section::with(|cs| {
            let now = self.now_us.borrow(cs).get();
            f(&mut self.chip.borrow_ref_mut(cs), now)
        })
    }
}

struct TestDelay<'a>(&'a TestCell);

impl DelayNs for TestDelay<'_> {
    fn delay_ns(&mut self, ns: u32) {
        critical_section::with(|cs| {
            let t = self.0.now_us.borrow(cs);
            t.set(t.get() + (ns as u64).div_ceil(1000));
        });
    }
}

#[test]
fn the_driver_runs_through_the_embedded_hal_fronts() {
    for chip in [Chip::Sx1276, Chip::Sx1272] {
        let cell = TestCell {
            chip: Mutex::new(RefCell::new(Sx127xChip::new(chip))),
            now_us: Mutex::new(Cell::new(0)),
        };
        let mut d = Sx127x::new(
            EmuSpi(&cell),
            EmuReset(&cell),
            EmuDio0(&cell),
            chip,
            PaPin::PaBoost,
        );
        d.init(&mut TestDelay(&cell)).unwrap();
        let config: LoRaConfig = LoRaParams {
            region: Some(5),
            ..LoRaParams::pycom_defaults()
        }
        .validate()
        .unwrap();
        d.configure(&config).unwrap();
        let now = || Instant::from_millis(cell.with_chip(|_, now| now) / 1000);
        d.transmit(now(), &[0xAB; 20]).unwrap();
        assert_eq!(d.poll_event(now(), &mut [0; 256]), None);
        let s = cell.with_chip(|c, _| c.settings());
        assert_eq!(s.frequency, config.frequency);
        let airtime = s.airtime_us(20);
        TestDelay(&cell).delay_us(airtime as u32);
        assert_eq!(d.poll_event(now(), &mut [0; 256]), Some(RadioEvent::TxDone));
        assert_eq!(cell.with_chip(|c, _| c.transmissions()), 1);
        // Back in LoRa standby by itself, as the datasheet's TX mode does.
        assert_eq!(cell.with_chip(|c, _| c.mode()), (true, 0x01), "{chip:?}");
    }
}
